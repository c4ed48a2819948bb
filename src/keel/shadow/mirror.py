"""Mirror a share of a route's answered requests to its shadow candidate, off the request path.

The stage sits right after the exact cache: a cache hit was answered by no deployment, so it is not
mirrored; the output guards are inside the stage, so the live answer it sees is the one the client
gets (placeholders kept, as logged) and their verdicts are on the request.

Once the live answer is complete — a body when it is returned, a stream when its last frame has gone
out — a sampled request is sent again, without streaming, to the candidate, in a background task that
the request never awaits and that never raises into it:

* the client's latency does not include it: it starts after the answer has been handed back;
* the candidate is called directly: no retries or failover, and its circuit breaker, health, the
  request log, budgets and rate limits never see the call; its cost goes to the shadow store alone;
* at most ``max_in_flight`` shadow calls run per route; a request past that is not mirrored, never
  queued.

A request is eligible when it was answered (200) by a deployment other than the candidate, not from
the cache or a safe-mode path, and, for a stream, the stream ended cleanly. Results are written by one
writer task, in batches of whatever finished within half a second.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from keel.cache.replay import as_body
from keel.config.runtime import Deployment, Route
from keel.core.context import Json, Reply, RequestContext
from keel.core.errors import KeelError, ServiceUnavailable
from keel.cost.compute import cost_of
from keel.cost.estimate import estimate_completion_tokens, estimate_request_tokens
from keel.cost.prices import price_for
from keel.guards.base import GuardState
from keel.guards.runner import GuardRunner
from keel.pipeline.chain import Handler
from keel.pipeline.cost import request_cost
from keel.providers.base import Provider
from keel.routing.tiering.examples import Embed
from keel.shadow.compare import Comparison, answer_text, compare_answers
from keel.shadow.config import ShadowConfig
from keel.shadow.store import ShadowResult

log = logging.getLogger("keel.shadow")

WRITE_BATCH = 500
WRITE_DELAY_S = 0.5
"""Results gather this long before a write, so that a busy route writes one transaction for many."""
MAX_UNWRITTEN = 10_000
"""Results waiting for the database beyond this are dropped (a database outage must not grow memory)."""

_HASH_SPACE = float(2**64)


class ShadowSink(Protocol):
    async def record(self, results: Sequence[ShadowResult]) -> None: ...


def sampled(route: str, request_id: str, share: float) -> bool:
    """Whether a request is mirrored: a hash of route and request id falls below ``share``, in every process."""
    if share >= 1.0:
        return True
    digest = hashlib.blake2b(f"{route}\0{request_id}".encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") < share * _HASH_SPACE


@dataclass(frozen=True, slots=True)
class _Live:
    """What the shadow call needs from the live request, taken when the live answer is complete."""

    request_id: str
    ts: float
    route: Route
    config: ShadowConfig
    candidate: Deployment
    request: Json
    answer: Json | None
    chunks: list[Json] | None
    """The live stream's chunks, folded into an answer by the shadow task (off the request path)."""
    deployment: str
    latency_ms: float | None
    cost_usd: float | None
    guard_actions: tuple[str, ...] | None
    placeholders: dict[str, str]


class MirrorToShadow:
    def __init__(
        self,
        providers: Callable[[], Mapping[str, Provider]],
        sink: ShadowSink,
        *,
        guards: GuardRunner | None = None,
        embed: Embed | None = None,
    ) -> None:
        """``providers`` gives the running config's providers (they change on reload); ``guards`` runs the
        route's output guards on the candidate's answers; ``embed`` gives routes asking for it semantic similarity."""
        self._providers = providers
        self._sink = sink
        self._guards = guards
        self._embed = embed
        self._in_flight: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._unwritten: list[ShadowResult] = []
        self._writer: asyncio.Task[None] | None = None
        self._closed = False

    async def __call__(self, ctx: RequestContext, call_next: Handler) -> Reply:
        reply = await call_next(ctx)
        config = self._eligible(ctx, reply)
        if config is None:
            return reply
        if reply.stream is None:
            self._start(ctx, config, ctx.response_body or reply.body)
        else:
            if ctx.stream_chunks is None:
                ctx.stream_chunks = []  # the relay collects the chunks from here on (its generator has not run yet)
            reply.stream = self._after(ctx, config, reply.stream)
        return reply

    def _eligible(self, ctx: RequestContext, reply: Reply) -> ShadowConfig | None:
        route, dep = ctx.route, ctx.deployment
        if route is None or dep is None or ctx.endpoint != "chat.completions" or ctx.body is None:
            return None
        config = route.config.shadow
        if config is None or reply.status != 200 or ctx.safe_mode is not None:
            return None
        if dep.name == config.candidate:
            return None
        return config if sampled(route.name, ctx.request_id, config.share) else None

    async def _after(
        self, ctx: RequestContext, config: ShadowConfig, stream: AsyncIterator[bytes]
    ) -> AsyncIterator[bytes]:
        async for frame in stream:
            yield frame
        # Reached only when the client took the whole stream; ``error_class`` is set by a failed one.
        if ctx.error_class is None:
            self._start(ctx, config, ctx.response_body)

    def _start(self, ctx: RequestContext, config: ShadowConfig, answer: Json | None) -> None:
        assert ctx.route is not None and ctx.deployment is not None and ctx.body is not None
        route = ctx.route
        running = self._in_flight.get(route.name, 0)
        if running >= config.max_in_flight or self._closed:
            log.debug("route %s: %d shadow calls in flight, %s not mirrored", route.name, running, ctx.request_id)
            return
        dep = ctx.deployment
        live = _Live(
            request_id=ctx.request_id,
            ts=ctx.ts,
            route=route,
            config=config,
            candidate=ctx.config.deployments[config.candidate],
            request=ctx.body,
            answer=answer,
            chunks=ctx.stream_chunks if answer is None else None,
            deployment=dep.name,
            latency_ms=next((a.latency_ms for a in reversed(ctx.attempts) if a.status == 200), None),
            cost_usd=cost.usd if (cost := request_cost(ctx)) is not None else None,
            guard_actions=_live_guard_actions(ctx) if _has_output_guards(route) else None,
            placeholders=dict(ctx.guard_state.placeholders) if ctx.guard_state is not None else {},
        )
        self._in_flight[route.name] = running + 1
        task = asyncio.create_task(self._mirror(live), name=f"keel-shadow-{ctx.request_id}")
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._finished(done, route.name))

    def _finished(self, task: asyncio.Task[None], route: str) -> None:
        self._tasks.discard(task)
        self._in_flight[route] -= 1

    async def _mirror(self, live: _Live) -> None:
        try:
            result = await self._shadow(live)
        except Exception:  # a bug here must not go unseen, nor reach the request
            log.exception("shadow call for request %s failed", live.request_id)
            return
        self._keep(result)

    async def _shadow(self, live: _Live) -> ShadowResult:
        candidate = live.candidate
        body = {k: v for k, v in live.request.items() if k not in ("stream", "stream_options")}
        body["model"] = candidate.model
        started = time.perf_counter()
        try:
            answer = await self._ask(candidate, body, live.config.timeout_s)
        except KeelError as error:
            failed = error.error_class + (f" ({error.code})" if error.code else "")
            return _result(live, (time.perf_counter() - started) * 1000, error=failed)
        except TimeoutError:
            return _result(live, (time.perf_counter() - started) * 1000, error="UpstreamTimeout (shadow_timeout)")
        latency_ms = (time.perf_counter() - started) * 1000
        cost_usd = _cost_usd(candidate, body, answer)
        actions, answer = await self._checked(live, body, answer)
        live_answer = live.answer if live.answer is not None else _folded(live.chunks)
        embed = self._embed if live.config.compare.semantic else None
        comparison = await compare_answers(live_answer, answer, embed) if live_answer is not None else None
        return _result(live, latency_ms, shadow_cost_usd=cost_usd, comparison=comparison, shadow_actions=actions)

    async def _ask(self, candidate: Deployment, body: Json, timeout_s: float) -> Json:
        if candidate.disabled is not None:
            raise ServiceUnavailable(candidate.disabled, code="deployment_disabled")
        provider = self._providers().get(candidate.name)
        if provider is None:  # the config was reloaded without it while the live request ran
            raise ServiceUnavailable(f"no provider for {candidate.name!r}", code="no_provider")
        async with asyncio.timeout(timeout_s):
            return await provider.chat(body)

    async def _checked(self, live: _Live, body: Json, answer: Json) -> tuple[tuple[str, ...] | None, Json]:
        """The route's output guards on the candidate's answer: their actions, and the answer as they left it
        (a redaction applied), to compare with the live answer the client got."""
        route = live.route
        if self._guards is None or not _has_output_guards(route):
            return None, answer
        state = GuardState(route.name, placeholders=dict(live.placeholders))
        try:
            checked = await self._guards.run_output(route, body, answer, state)
        except Exception as error:  # a guard's server-side failure leaves the comparison without guards
            log.warning("shadow guards on route %s failed (%s)", route.name, type(error).__name__)
            return None, answer
        return tuple(f"{v.guard}={v.action}" for v in checked.verdicts), checked.body

    def _keep(self, result: ShadowResult) -> None:
        if len(self._unwritten) >= MAX_UNWRITTEN:
            log.warning("shadow results are not being written fast enough; dropped the one for %s", result.request_id)
            return
        self._unwritten.append(result)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="keel-shadow-writer")

    async def _write(self) -> None:
        while self._unwritten:
            await asyncio.sleep(WRITE_DELAY_S)
            batch = self._unwritten[:WRITE_BATCH]
            del self._unwritten[:WRITE_BATCH]
            try:
                await self._sink.record(batch)
            except Exception as error:  # shadow results are worth a warning, not a retry loop
                log.warning("could not write %d shadow results: %s: %s", len(batch), type(error).__name__, error)

    async def aclose(self, grace_s: float = 5.0) -> None:
        """Stop mirroring, give running shadow calls ``grace_s`` to finish, cancel the rest, write the results."""
        self._closed = True
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=grace_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        if self._writer is not None:
            await self._writer


def _has_output_guards(route: Route) -> bool:
    return route.guards is not None and bool(route.guards.output)


def _live_guard_actions(ctx: RequestContext) -> tuple[str, ...]:
    return tuple(f"{v['guard']}={v['action']}" for v in ctx.guard_verdicts if v.get("stage") == "output")


def _folded(chunks: list[Json] | None) -> Json | None:
    if not chunks:
        return None
    try:
        return as_body(chunks)
    except ValueError:  # a stream that never finished a choice carries no answer to compare
        return None


def _cost_usd(candidate: Deployment, body: Json, answer: Json) -> float | None:
    model = answer.get("model")
    price = price_for(candidate.provider, model if isinstance(model, str) else candidate.model, candidate.config.price)
    if price is None:
        return None
    usage = answer.get("usage")
    if isinstance(usage, dict):
        return cost_of(price, usage, 0, 0).usd
    return cost_of(price, None, estimate_request_tokens(body), estimate_completion_tokens(answer_text(answer))).usd


def _result(
    live: _Live,
    shadow_latency_ms: float,
    *,
    shadow_cost_usd: float | None = None,
    comparison: Comparison | None = None,
    shadow_actions: tuple[str, ...] | None = None,
    error: str | None = None,
) -> ShadowResult:
    return ShadowResult(
        request_id=live.request_id,
        route=live.route.name,
        live_deployment=live.deployment,
        candidate=live.candidate.name,
        ts=live.ts,
        live_latency_ms=live.latency_ms,
        shadow_latency_ms=shadow_latency_ms,
        live_cost_usd=live.cost_usd,
        shadow_cost_usd=shadow_cost_usd,
        similarity=comparison.similarity if comparison is not None else None,
        lexical_similarity=comparison.lexical if comparison is not None else None,
        semantic_similarity=comparison.semantic if comparison is not None else None,
        json_equal=comparison.json_equal if comparison is not None else None,
        length_ratio=comparison.length_ratio if comparison is not None else None,
        live_guard_actions=live.guard_actions,
        shadow_guard_actions=shadow_actions,
        error=error,
    )
