"""The route's guards in the request path: input guards before the cache, output guards around the call.

Input guards see the validated request before anything else does with its content: a redaction
replaces the body the cache keys, the upstream and the request log see; a block answers 400
``guard_blocked`` naming the guard and what it found (never the text itself).

Output guards see the complete answer before the client does. A route with output guards (or with
PII placeholders to restore) therefore calls its upstream without streaming, checks the answer, and
replays it as a stream to a client that asked for one. A blocked answer comes back like a content
filter's: the text is withheld and ``finish_reason`` is ``content_filter``. Personal data found in an
answer records a Sev-1 incident event. Placeholders are restored last, after what is logged is taken.

Every verdict goes to ``x-keel-guards``, the request log (``guard_verdicts``) and Prometheus.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from keel.cache.replay import as_chunks
from keel.config.runtime import Route
from keel.core.context import Json, Reply, RequestContext
from keel.core.errors import GuardBlocked
from keel.guards.base import GuardState, Verdict
from keel.guards.pii.restore import restore
from keel.guards.runner import GuardRunner
from keel.guards.texts import rewrite_answer
from keel.pipeline.chain import Handler
from keel.pipeline.cost import discard_answer
from keel.providers.sse import DONE_FRAME, encode_chunk

IncidentSink = Callable[[RequestContext, Verdict], None]


def _route(ctx: RequestContext) -> Route | None:
    assert ctx.body is not None
    route = ctx.route or ctx.requested
    if route is None or route.guards is None or ctx.endpoint != "chat.completions":
        return None
    return route


def _note(ctx: RequestContext, verdicts: list[Verdict]) -> None:
    ctx.guard_verdicts.extend(v.to_json() for v in verdicts)


def guards_header(ctx: RequestContext) -> str:
    return ";".join(_header(v) for v in ctx.guard_verdicts)


def _header(verdict: Json) -> str:
    found = ",".join(f"{f['kind']}:{f['count']}" for f in verdict["findings"])
    return f"{verdict['guard']}={verdict['action']}" + (f"({found})" if found else "")


class InputGuards:
    def __init__(self, runner: GuardRunner) -> None:
        self._runner = runner

    async def __call__(self, ctx: RequestContext, call_next: Handler) -> Reply:
        route = _route(ctx)
        if route is None:
            return await call_next(ctx)
        assert route.guards is not None and ctx.body is not None
        ctx.guard_state = GuardState(route.name)
        if route.guards.input:
            result = await self._runner.run_input(route, ctx.body, ctx.guard_state)
            ctx.body = result.body
            _note(ctx, result.verdicts)
            if result.refusal is not None:
                result.refusal.headers["x-keel-guards"] = guards_header(ctx)
                raise result.refusal
            if result.blocked is not None:
                raise GuardBlocked(
                    f"blocked by guard {result.blocked.guard!r}: {result.blocked.message or 'policy violation'}",
                    headers={"x-keel-guards": guards_header(ctx)},
                )
        reply = await call_next(ctx)
        if ctx.guard_verdicts:
            reply.headers["x-keel-guards"] = guards_header(ctx)
        return reply


class OutputGuards:
    def __init__(self, runner: GuardRunner, on_incident: IncidentSink) -> None:
        self._runner = runner
        self._on_incident = on_incident

    async def __call__(self, ctx: RequestContext, call_next: Handler) -> Reply:
        route = _route(ctx)
        state = ctx.guard_state
        if route is None or state is None:
            return await call_next(ctx)
        assert route.guards is not None and ctx.body is not None
        if not route.guards.output and not (state.restore_placeholders and state.placeholders):
            return await call_next(ctx)
        wants_stream, body = ctx.stream, ctx.body
        if wants_stream:  # the whole answer is needed before any of it may reach the client
            ctx.stream = False
            ctx.body = {k: v for k, v in body.items() if k not in ("stream", "stream_options")}
        try:
            reply = await call_next(ctx)
            answer = await self._checked(ctx, route, body, reply, call_next)
        finally:
            ctx.stream, ctx.body = wants_stream, body
        if answer is None:
            return reply
        ctx.response_body = answer  # what is logged keeps the placeholders
        if state.restore_placeholders and state.placeholders:
            answer = rewrite_answer(answer, lambda text: restore(text, state.placeholders))
        reply.body = answer
        if wants_stream:
            reply.stream, reply.body = _replay(as_chunks(answer, include_usage=ctx.client_wants_usage)), None
        return reply

    async def _checked(
        self, ctx: RequestContext, route: Route, request: Json, reply: Reply, call_next: Handler
    ) -> Json | None:
        """The answer the client may see, after at most one retry or a fallback; None for a failed reply."""
        assert route.guards is not None and ctx.guard_state is not None
        state = ctx.guard_state
        while reply.status == 200 and reply.body is not None:
            if not route.guards.output:
                return reply.body
            result = await self._runner.run_output(route, request, reply.body, state)
            _note(ctx, result.verdicts)
            for verdict in result.verdicts:
                if verdict.guard == "pii" and verdict.findings:
                    self._on_incident(ctx, verdict)
            decisive = result.decisive
            if decisive is None:
                return result.body
            if decisive.action == "retry" and not state.retried:
                state.retried = True
                if state.reask is not None:
                    assert ctx.body is not None
                    ctx.body = {**ctx.body, "messages": state.reask}
                discard_answer(ctx)
                reply = await call_next(ctx)
                continue
            if decisive.action == "fallback" and route.config.safe_mode is not None and ctx.safe_mode is None:
                ctx.safe_mode = f"guard {decisive.guard}: {decisive.message}"[:300]
                discard_answer(ctx)
                reply = await call_next(ctx)
                return reply.body  # the safe-mode path's own answer, as a route kill switch would give
            return _withheld(result.body)
        return None


def _withheld(answer: Json) -> Json:
    choices = [
        {**choice, "message": {"role": "assistant", "content": None}, "finish_reason": "content_filter"}
        for choice in answer.get("choices") or ()
        if isinstance(choice, dict)
    ]
    return {**answer, "choices": choices}


async def _replay(chunks: list[Json]) -> AsyncIterator[bytes]:
    yield b"".join(encode_chunk(chunk) for chunk in chunks) + DONE_FRAME
