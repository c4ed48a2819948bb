"""The outermost stage: whatever happens inside, the request is recorded once, off the request path.

For streams the record is written when the stream ends (completed, failed or abandoned by the client),
so its status, tokens and timings are final.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable

from keel.core.context import Json, Reply, RequestContext
from keel.core.errors import InternalError, KeelError
from keel.monitor.metrics import Metrics
from keel.monitor.trace_context import valid_traceparent
from keel.pipeline.chain import Handler
from keel.pipeline.cost import ensure_cost
from keel.store.records import RequestRecord

log = logging.getLogger("keel.pipeline")

CLIENT_CLOSED = 499


DriftSink = Callable[[str, Json, Json | None], None]


class RecordRequest:
    def __init__(
        self, submit: Callable[[RequestRecord], None], metrics: Metrics, drift: DriftSink | None = None
    ) -> None:
        self._submit = submit
        self._metrics = metrics
        self._drift = drift

    async def __call__(self, ctx: RequestContext, call_next: Handler) -> Reply:
        try:
            reply = await call_next(ctx)
        except KeelError as exc:
            self._fail(ctx, exc)
            raise
        except Exception:
            log.exception("unexpected error serving %s", ctx.request_id)
            error = InternalError(f"internal error; quote request id {ctx.request_id} when reporting it")
            self._fail(ctx, error)
            raise error from None
        if reply.stream is None:
            ctx.status = reply.status
            if ctx.route is not None and ctx.route.log_bodies and ctx.response_body is None:
                ctx.response_body = reply.body  # output guards set it first when they changed the answer
            ensure_cost(ctx)
            if ctx.cost_usd is not None:
                reply.headers["x-keel-cost-usd"] = f"{ctx.cost_usd:.9f}"
            # Metrics, the record and drift are booked on the loop's next turn: by then the answer has
            # been written to the client, so they take nothing from its latency.
            asyncio.get_running_loop().call_soon(self._book, ctx, reply.body, time.perf_counter())
            return reply
        reply.stream = self._finish_after(ctx, reply.stream)
        return reply

    def _fail(self, ctx: RequestContext, exc: KeelError) -> None:
        ctx.status, ctx.error_class, ctx.error_code = exc.status, exc.error_class, exc.code
        self.finish(ctx)

    async def _finish_after(self, ctx: RequestContext, stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        completed = False
        try:
            async for frame in stream:
                yield frame
            completed = True
        finally:
            if not completed and ctx.error_class is None:
                ctx.status, ctx.error_class = CLIENT_CLOSED, "ClientClosed"
            self.finish(ctx)
            self._watch_drift(ctx, None)

    def _book(self, ctx: RequestContext, answer: Json | None, ended: float) -> None:
        try:
            self.finish(ctx, ended)
            self._watch_drift(ctx, answer)
        except Exception:
            log.exception("could not record request %s", ctx.request_id)

    def _watch_drift(self, ctx: RequestContext, answer: Json | None) -> None:
        """Hand a successful exchange of a route with drift monitoring to the monitor's queue."""
        route = ctx.route
        if self._drift is None or route is None or route.config.drift is None or ctx.status != 200:
            return
        if ctx.body is not None and ctx.endpoint == "chat.completions":
            self._drift(route.name, ctx.body, answer)

    def finish(self, ctx: RequestContext, ended: float | None = None) -> None:
        """Count the request in the metrics and submit its record; ``ended`` when its answer was ready."""
        ensure_cost(ctx)
        elapsed = (ended if ended is not None else time.perf_counter()) - ctx.started
        overhead = max(0.0, elapsed - ctx.upstream_s)
        route = ctx.route.name if ctx.route else ""
        deployment = ctx.deployment.name if ctx.deployment else ""
        usage = ctx.usage or {}
        m = self._metrics
        m.child(m.requests, ctx.endpoint, route, deployment, str(ctx.status)).inc()
        m.child(m.overhead, ctx.endpoint, route).observe(overhead)
        m.child(m.duration, ctx.endpoint, route).observe(elapsed)
        if ctx.ttft_s is not None:
            m.child(m.ttft, route, deployment).observe(ctx.ttft_s)
        for attempt in ctx.attempts:
            m.child(m.attempts, route, attempt.deployment, attempt.kind, attempt.error_class or "ok").inc()
        if ctx.safe_mode is not None:
            m.child(m.safe_mode, route).inc()
        if ctx.error_class is not None:
            m.child(m.errors, route, deployment, ctx.error_class).inc()
        if ctx.cache is not None:
            m.child(m.cache_lookups, route, ctx.cache).inc()
        if ctx.cost_usd is not None:
            m.child(m.cost, route, deployment).inc(ctx.cost_usd)
        prompt, completion, total = (_count(usage.get(k)) for k in _USAGE_KEYS)
        if prompt is not None:
            m.child(m.tokens, route, deployment, "prompt").inc(prompt)
        if completion is not None:
            m.child(m.tokens, route, deployment, "completion").inc(completion)
        identity = ctx.identity
        log_bodies = ctx.route is not None and ctx.route.log_bodies
        self._submit(
            RequestRecord(
                request_id=ctx.request_id,
                ts=ctx.ts,
                endpoint=ctx.endpoint,
                status=ctx.status,
                config_hash=ctx.config.hash,
                key_id=identity.key_id if identity else None,
                team=identity.team if identity else None,
                feature=identity.feature if identity else None,
                route=ctx.route.name if ctx.route else None,
                deployment=ctx.deployment.name if ctx.deployment else None,
                provider=ctx.deployment.provider if ctx.deployment else None,
                model=ctx.model,
                stream=ctx.stream,
                error_class=ctx.error_class,
                error_code=ctx.error_code,
                latency_ms=elapsed * 1000,
                ttft_ms=ctx.ttft_s * 1000 if ctx.ttft_s is not None else None,
                overhead_ms=overhead * 1000,
                prompt_tokens=prompt,
                completion_tokens=completion,
                total_tokens=total,
                attempts=ctx.attempts,
                request_body=ctx.body if log_bodies else None,
                response_body=ctx.response_body if log_bodies else None,
                safe_mode=ctx.safe_mode,
                cost_usd=ctx.cost_usd,
                cost_estimated=ctx.cost_estimated,
                cache=ctx.cache,
                tier=_tier_name(ctx),
                guard_verdicts=ctx.guard_verdicts or None,
                escalation=ctx.escalation,
                rollout_id=ctx.rollout_id,
                rollout_side=ctx.rollout_side,
                confidence=ctx.confidence,
                traceparent=valid_traceparent(ctx.headers.get("traceparent")),
            )
        )


_USAGE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens")


def _tier_name(ctx: RequestContext) -> str | None:
    tiering = ctx.route.config.tiering if ctx.route is not None else None
    return tiering.tiers[ctx.tier].name if tiering is not None and ctx.tier is not None else None


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
