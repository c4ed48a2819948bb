"""Serve the request from its plan: retries, failover, fallbacks, hedging, and safe mode.

The terminal handler of the pipeline. For each planned deployment whose circuit admits a call:

- success → answer (a stream is held until its first chunk, so failing before it is invisible);
- a failure another deployment could avoid (``KeelError.failover``) → the next deployment at once,
  or, with none left, the same one again after a jittered backoff that honours Retry-After;
- a content refusal or a context-length error → the route's content-policy or context-window
  fallback, when it has one; any other client error → returned as it is.

Every extra attempt (retry, failover, fallback, hedge) spends the route's retry budget, so a failing
upstream cannot multiply traffic. When no attempt succeeds, the route's safe-mode path answers if it
has one; otherwise the client gets the last error, honestly and within the total deadline.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping

from keel.config.runtime import Deployment
from keel.core.context import Json, PlanStep, Reply, RequestContext
from keel.core.errors import (
    ContentPolicyViolation,
    ContextWindowExceeded,
    KeelError,
    RateLimited,
    ServiceUnavailable,
)
from keel.pipeline.call import Answer, call_deployment, effective_timeouts
from keel.pipeline.relay import relay
from keel.pipeline.safe_mode import message_completion
from keel.providers.base import Provider
from keel.providers.sse import DONE_FRAME, encode_chunk
from keel.routing.health import Health
from keel.routing.retry import retry_delay_s


class CallUpstream:
    def __init__(self, providers: Mapping[str, Provider], health: Health, rng: random.Random) -> None:
        self._providers = providers
        self._health = health
        self._rng = rng

    async def __call__(self, ctx: RequestContext) -> Reply:
        assert ctx.route is not None and ctx.body is not None
        body = _with_usage(ctx.body) if ctx.stream else ctx.body
        if ctx.safe_mode is not None:
            return await self._safe_mode(ctx, body)
        route = ctx.route.config
        deadline = ctx.started + _request_budget_s(ctx)
        budget = self._health.budget(ctx.route)
        budget.on_request()
        plan = deque(ctx.plan)
        used_fallbacks: set[str] = set()
        last: KeelError | None = None
        attempts = retries = 0
        while plan and attempts < route.retries.max_attempts:
            step = plan[0]
            if not self._health.breakers.allow(step.deployment):
                plan.popleft()
                last = last or ServiceUnavailable(f"{step.deployment}: circuit open", code="circuit_open")
                continue
            if attempts > 0 and not budget.try_spend():
                self._health.breakers.release_probe(step.deployment)  # admitted, but never called
                break
            attempts += 1
            try:
                answer = await self._attempt(ctx, step, plan, deadline, body)
            except KeelError as exc:
                last = exc
                fallback = _fallback_for(exc, route.content_policy_fallback, route.context_window_fallback)
                if fallback is not None and fallback not in used_fallbacks:
                    used_fallbacks.add(fallback)
                    plan = deque([PlanStep(fallback, "fallback")])
                    continue
                if not exc.failover:
                    raise
                if len(plan) > 1:
                    plan.popleft()
                    plan[0] = PlanStep(plan[0].deployment, "failover" if plan[0].kind == "primary" else plan[0].kind)
                    continue
                delay = retry_delay_s(retries, route.retries, self._rng.random(), _retry_after(exc))
                if not exc.retryable or delay is None or time.perf_counter() + delay >= deadline:
                    break
                retries += 1
                plan[0] = PlanStep(step.deployment, "retry")
                await asyncio.sleep(delay)
                continue
            return self._reply(ctx, answer, deadline)
        if ctx.route.config.safe_mode is not None:
            ctx.safe_mode = f"unavailable: {last.message if last else 'no deployment could be tried'}"
            return await self._safe_mode(ctx, body)
        raise last or ServiceUnavailable(f"no deployment of {ctx.route.name!r} could be tried")

    async def _attempt(
        self, ctx: RequestContext, step: PlanStep, plan: deque[PlanStep], deadline: float, body: Json
    ) -> Answer:
        dep = ctx.config.deployments[step.deployment]
        delay = self._hedge_delay(ctx, dep)
        if delay is None or len(plan) < 2:
            return await self._call(ctx, dep, step.kind, deadline, body)
        primary = asyncio.create_task(self._call(ctx, dep, step.kind, deadline, body))
        done, _ = await asyncio.wait({primary}, timeout=delay)
        if done:
            return primary.result()
        assert ctx.route is not None
        second = plan[1].deployment
        if not self._health.breakers.allow(second):
            return await primary
        if not self._health.budget(ctx.route).try_spend():
            self._health.breakers.release_probe(second)
            return await primary
        hedge = asyncio.create_task(self._call(ctx, ctx.config.deployments[second], "hedge", deadline, body))
        return await _first_success(ctx, [primary, hedge])

    async def _call(self, ctx: RequestContext, dep: Deployment, kind: str, deadline: float, body: Json) -> Answer:
        return await call_deployment(ctx, self._providers, self._health, dep, kind, deadline, body)

    def _hedge_delay(self, ctx: RequestContext, dep: Deployment) -> float | None:
        assert ctx.route is not None
        hedge = ctx.route.config.hedge
        if hedge is None:
            return None
        latency = self._health.latency
        if hedge.after_quantile is not None and latency.samples(dep.name) >= hedge.min_samples:
            observed = latency.quantile(dep.name, hedge.after_quantile)
            if observed is not None:
                return observed
        return hedge.after_ms / 1000 if hedge.after_ms is not None else None

    def _reply(self, ctx: RequestContext, answer: Answer, deadline: float) -> Reply:
        ctx.deployment = answer.deployment
        if answer.body is not None:
            ctx.usage = answer.body.get("usage")
            ctx.model = answer.body.get("model")
            return Reply(body=answer.body, headers=_headers(ctx, answer.body))
        assert answer.first is not None
        return Reply(stream=relay(ctx, answer, deadline), headers=_headers(ctx, answer.first[0]))

    async def _safe_mode(self, ctx: RequestContext, body: Json) -> Reply:
        assert ctx.route is not None and ctx.safe_mode is not None
        safe = ctx.route.config.safe_mode
        if safe is None:
            raise ServiceUnavailable(f"{ctx.safe_mode} (the route {ctx.route.name!r} has no safe mode)")
        if safe.deployment is not None:
            dep = ctx.config.deployments[safe.deployment]
            deadline = ctx.started + effective_timeouts(dep, ctx.route).total_s
            answer = await self._call(ctx, dep, "safe_mode", deadline, body)
            return self._reply(ctx, answer, deadline)
        assert safe.message is not None
        whole, chunks = message_completion(safe.message, ctx.stream)
        ctx.model = "keel-safe-mode"
        headers = {"x-keel-safe-mode": _safe_code(ctx.safe_mode)}
        if whole is not None:
            return Reply(body=whole, headers=headers)
        assert chunks is not None
        ctx.status = 200
        return Reply(stream=_static_stream(ctx, chunks), headers=headers)


async def _first_success(ctx: RequestContext, tasks: list[asyncio.Task[Answer]]) -> Answer:
    """The first call to succeed wins and the others are cancelled; if all fail, the first one's error."""
    pending = set(tasks)
    errors: dict[asyncio.Task[Answer], BaseException] = {}
    try:
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            winners = [t for t in done if t.exception() is None]
            for t in done:
                if t.exception() is not None:
                    errors[t] = t.exception()  # type: ignore[assignment]
            if winners:
                for extra in winners[1:]:
                    await extra.result().discard(ctx)
                return winners[0].result()
        raise next(errors[t] for t in tasks if t in errors)
    finally:
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


def _request_budget_s(ctx: RequestContext) -> float:
    """The whole request's deadline: the route's total, else the longest total of its planned
    deployments (each attempt is also bounded by its own deployment's total)."""
    assert ctx.route is not None
    override = ctx.route.timeout_overrides.get("total_s")
    if override is not None:
        return override
    deployments = ctx.config.deployments
    return max(deployments[step.deployment].config.timeouts.total_s for step in ctx.plan)


def _fallback_for(exc: KeelError, content_policy: str | None, context_window: str | None) -> str | None:
    if isinstance(exc, ContentPolicyViolation):
        return content_policy
    if isinstance(exc, ContextWindowExceeded):
        return context_window
    return None


def _retry_after(exc: KeelError) -> float | None:
    return exc.retry_after_s if isinstance(exc, RateLimited) else None


def _with_usage(body: Json) -> Json:
    """Always ask for usage so every stream can be counted; the relay hides it if not asked for."""
    options = body.get("stream_options") or {}
    if options.get("include_usage"):
        return body
    return {**body, "stream_options": {**options, "include_usage": True}}


def _headers(ctx: RequestContext, payload: Json) -> dict[str, str]:
    headers: dict[str, str] = {}
    meta = payload.get("keel")
    if isinstance(meta, dict) and isinstance(meta.get("confidence"), int | float):
        headers["x-keel-confidence"] = f"{meta['confidence']:.4f}"
    if ctx.safe_mode is not None:
        headers["x-keel-safe-mode"] = _safe_code(ctx.safe_mode)
    return headers


def _safe_code(reason: str) -> str:
    """The header names why: ``kill_switch`` or ``unavailable``; the log keeps the whole reason."""
    return "kill_switch" if reason.startswith("kill switch") else "unavailable"


async def _static_stream(ctx: RequestContext, chunks: list[Json]) -> AsyncIterator[bytes]:
    frames = [encode_chunk(c) for c in chunks if c.get("choices") or ctx.client_wants_usage]
    yield b"".join(frames) + DONE_FRAME
