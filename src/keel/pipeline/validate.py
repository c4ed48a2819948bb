"""Parse the JSON body and check it against the OpenAI request shape for its endpoint."""

from __future__ import annotations

import orjson

from keel.config.runtime import Route
from keel.core.context import Reply, RequestContext
from keel.core.errors import InvalidRequest
from keel.core.wire import check_chat, check_embeddings
from keel.guards.builtin.contract_guard import ContractGuard
from keel.pipeline.chain import Handler


class ValidateRequest:
    async def __call__(self, ctx: RequestContext, call_next: Handler) -> Reply:
        if not ctx.raw_body:
            raise InvalidRequest("the request body is empty; send a JSON object", param="body")
        try:
            body = orjson.loads(ctx.raw_body)
        except orjson.JSONDecodeError as exc:
            raise InvalidRequest(f"the request body is not valid JSON: {exc}", param="body") from None
        if not isinstance(body, dict):
            raise InvalidRequest("the request body must be a JSON object", param="body")
        if ctx.endpoint == "chat.completions":
            req = check_chat(body)
            ctx.stream = bool(req.stream)
            ctx.client_wants_usage = bool(req.stream_options and req.stream_options.include_usage)
        else:
            check_embeddings(body)
        ctx.body = body
        ctx.requested = ctx.config.route_for(body["model"])
        if ctx.endpoint == "chat.completions" and ("keel_input" in body or "keel_input_type" in body):
            _check_contract_input(ctx.requested)
        return await call_next(ctx)


def _check_contract_input(route: Route | None) -> None:
    """``keel_input`` is for routes whose input contract reads it; elsewhere it would reach the upstream."""
    guards = route.guards if route is not None else None
    if guards is None or not any(issubclass(spec.cls, ContractGuard) for spec in guards.input):
        raise InvalidRequest(
            "keel_input and keel_input_type are only accepted by routes with an input contract", param="keel_input"
        )
