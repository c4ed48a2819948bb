"""The aiohttp application: OpenAI-compatible endpoints, health, metrics, and the admin API."""

from __future__ import annotations

import logging
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from keel.core.context import RequestContext
from keel.core.errors import (
    InternalError,
    KeelError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
)
from keel.server.admin import add_admin_routes, add_kill_switch_routes
from keel.server.caller import caller
from keel.server.canary_api import add_canary_routes
from keel.server.feedback import add_feedback_routes
from keel.server.responses import error_response, json_response, keel_headers, send_reply
from keel.server.review_api import add_review_routes
from keel.server.rollout_api import add_rollout_routes
from keel.server.shadow_api import add_shadow_routes
from keel.services.runtime import Runtime

log = logging.getLogger("keel.server")

RUNTIME = web.AppKey("runtime", Runtime)


def build_app(runtime: Runtime) -> web.Application:
    app = web.Application(
        client_max_size=runtime.initial_config.raw.server.max_body_bytes,
        middlewares=[_openai_errors],
    )
    app[RUNTIME] = runtime
    app.router.add_post("/v1/chat/completions", _chat)
    app.router.add_post("/chat/completions", _chat)
    app.router.add_post("/v1/embeddings", _embeddings)
    app.router.add_post("/embeddings", _embeddings)
    app.router.add_get("/v1/models", _models)
    app.router.add_get("/v1/models/{model:.+}", _model)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/metrics", _metrics)
    add_admin_routes(app, RUNTIME)
    add_kill_switch_routes(app, RUNTIME)
    add_rollout_routes(app, RUNTIME)
    add_shadow_routes(app, RUNTIME)
    add_feedback_routes(app, RUNTIME)
    add_review_routes(app, RUNTIME)
    add_canary_routes(app, RUNTIME)
    return app


async def _chat(request: web.Request) -> web.StreamResponse:
    return await _serve(request, "chat.completions")


async def _embeddings(request: web.Request) -> web.StreamResponse:
    return await _serve(request, "embeddings")


async def _serve(request: web.Request, endpoint: str) -> web.StreamResponse:
    runtime = request.app[RUNTIME]
    snapshot = runtime.snapshot
    ctx = RequestContext(
        request_id=runtime.request_ids.new(),
        endpoint=endpoint,
        config=snapshot.config,
        ts=time.time(),
        started=time.perf_counter(),
        headers=request.headers,
    )
    try:
        ctx.raw_body = await _read_body(request)
        reply = await snapshot.pipeline(ctx)
    except KeelError as exc:
        return error_response(exc, keel_headers(ctx))
    return await send_reply(request, ctx, reply)


async def _read_body(request: web.Request) -> bytes:
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        limit = request.app[RUNTIME].initial_config.raw.server.max_body_bytes
        raise PayloadTooLarge(
            f"request body is larger than the {limit} bytes this gateway accepts", param="body"
        ) from None


async def _models(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    identity = caller(request, runtime)
    config = runtime.snapshot.config
    created = int(runtime.started_at)
    data = [
        {"id": name, "object": "model", "created": created, "owned_by": "keel"}
        for name in config.model_names()
        if identity.may_use(name)
    ]
    return json_response({"object": "list", "data": data})


async def _model(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    identity = caller(request, runtime)
    name = request.match_info["model"]
    if name not in runtime.snapshot.config.model_names() or not identity.may_use(name):
        raise NotFound(f"The model {name!r} does not exist on this gateway", code="model_not_found")
    return json_response({"id": name, "object": "model", "created": int(runtime.started_at), "owned_by": "keel"})


async def _healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def _readyz(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    if not runtime.ready:
        return json_response({"status": "starting"}, status=503)
    writer = runtime.log_writer
    return json_response(
        {
            "status": "ready",
            "config_hash": runtime.snapshot.config.hash,
            "request_log": {"pending": writer.pending, "spooling": writer.last_error is not None},
        }
    )


async def _metrics(request: web.Request) -> web.Response:
    body = request.app[RUNTIME].metrics.render()
    return web.Response(body=body, content_type="text/plain", charset="utf-8")


@web.middleware
async def _openai_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error a client can see is in OpenAI's shape, and every response has a request id."""
    try:
        response = await handler(request)
    except KeelError as exc:
        response = error_response(exc)
    except web.HTTPNotFound:
        response = error_response(NotFound(f"no such endpoint: {request.method} {request.path}"))
    except web.HTTPMethodNotAllowed as exc:
        response = error_response(
            MethodNotAllowed(f"{request.method} is not allowed on {request.path}"),
            {"allow": ",".join(sorted(exc.allowed_methods))},
        )
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        response = error_response(InternalError("internal error"))
    if not response.prepared and "x-request-id" not in response.headers:
        response.headers["x-request-id"] = request.app[RUNTIME].request_ids.new()
    return response
