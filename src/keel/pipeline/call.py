"""One call to one deployment, inside its deadlines, with its outcome booked exactly once.

Booking an outcome means: an attempt record on the request, the deployment's circuit breaker told
success or failure, its latency observed, and its in-flight and capacity counts released. For a
stream the outcome is booked when the stream ends, by the relay calling ``Answer.finish``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import NoReturn

from keel.config.resilience import Timeouts
from keel.config.runtime import Deployment, Route
from keel.core.context import Json, RequestContext
from keel.core.errors import KeelError, UpstreamBadResponse, UpstreamTimeout
from keel.cost.estimate import estimate_total_tokens
from keel.providers.base import Provider
from keel.routing.health import Health
from keel.store.records import AttemptRecord

CANCELLED = "Cancelled"


def effective_timeouts(dep: Deployment, route: Route) -> Timeouts:
    overrides = route.timeout_overrides
    return dep.config.timeouts.model_copy(update=overrides) if overrides else dep.config.timeouts


@dataclass(slots=True)
class Answer:
    """A successful call: a whole body, or a stream's first batch and the rest still to come."""

    deployment: Deployment
    kind: str
    timeouts: Timeouts
    body: Json | None = None
    first: list[Json] | None = None
    batches: AsyncIterator[list[Json]] | None = None
    _booking: _Booking | None = field(default=None, repr=False)

    def finish(self, ctx: RequestContext, error: KeelError | None, *, cancelled: bool = False) -> None:
        if self._booking is not None:
            self._booking.book(ctx, error, cancelled=cancelled)
            self._booking = None

    async def discard(self, ctx: RequestContext) -> None:
        """A stream that will not be relayed (it lost a hedge race): close it and book it as cancelled."""
        if self.batches is not None:
            await self.batches.aclose()  # type: ignore[attr-defined]
        self.finish(ctx, None, cancelled=True)


class _Booking:
    def __init__(self, health: Health, dep: Deployment, kind: str, started: float, tokens: int | None) -> None:
        self.health = health
        self.dep = dep
        self.kind = kind
        self.started = started
        self.tokens = tokens

    def book(self, ctx: RequestContext, error: KeelError | None, *, cancelled: bool = False) -> None:
        elapsed = time.perf_counter() - self.started
        name = self.dep.name
        health = self.health
        health.ended(name)
        if self.tokens is not None:
            usage = ctx.usage if error is None and not cancelled else None
            actual = usage.get("total_tokens") if usage else None
            health.capacity.release(name, actual if isinstance(actual, int) else None, self.tokens)
        error_class: str | None
        if cancelled:
            health.breakers.release_probe(name)
            status, error_class = 0, CANCELLED
        else:
            # A client error means the upstream worked: only failures another deployment could
            # avoid count against this one.
            health.breakers.record(name, error is None or not error.failover)
            status, error_class = (200, None) if error is None else (error.status, error.error_class)
            if error is None:
                health.latency.observe(name, elapsed)
        ctx.attempts.append(AttemptRecord(name, self.dep.provider, status, error_class, elapsed * 1000, self.kind))


async def call_deployment(
    ctx: RequestContext,
    providers: Mapping[str, Provider],
    health: Health,
    dep: Deployment,
    kind: str,
    deadline: float,
    body: Json,
) -> Answer:
    assert ctx.route is not None
    timeouts = effective_timeouts(dep, ctx.route)
    provider = providers[dep.name]
    tokens = estimate_total_tokens(body) if health.provisioned(dep.name) else None
    health.started(dep.name)
    if tokens is not None:
        health.capacity.acquire(dep.name, tokens)
    booking = _Booking(health, dep, kind, time.perf_counter(), tokens)
    started = booking.started
    batches: AsyncIterator[list[Json]] | None = None
    try:
        if ctx.endpoint == "embeddings" or not ctx.stream:
            limit = min(timeouts.total_s, deadline - started)
            call = provider.embeddings(body) if ctx.endpoint == "embeddings" else provider.chat(body)
            async with asyncio.timeout(max(0.0, limit)):
                result = await call
            ctx.upstream_s += time.perf_counter() - started
            booking.book(ctx, None)
            return Answer(dep, kind, timeouts, body=result)
        batches = provider.chat_stream(body).__aiter__()
        limit = min(timeouts.first_token_s, deadline - started)
        async with asyncio.timeout(max(0.0, limit)):
            first = await batches.__anext__()
    except StopAsyncIteration:
        _fail(ctx, booking, started, UpstreamBadResponse(f"{dep.name}: the stream ended before its first chunk"))
    except TimeoutError:
        await _close(batches)
        limit_name = "first token" if ctx.stream else "total"
        _fail(ctx, booking, started, UpstreamTimeout(f"{dep.name}: no answer within the {limit_name} deadline"))
    except KeelError as exc:
        await _close(batches)
        _fail(ctx, booking, started, exc)
    except asyncio.CancelledError:
        await _close(batches)
        ctx.upstream_s += time.perf_counter() - started
        booking.book(ctx, None, cancelled=True)
        raise
    ctx.upstream_s += time.perf_counter() - started
    ctx.ttft_s = time.perf_counter() - ctx.started
    return Answer(dep, kind, timeouts, first=first, batches=batches, _booking=booking)


def _fail(ctx: RequestContext, booking: _Booking, started: float, error: KeelError) -> NoReturn:
    ctx.upstream_s += time.perf_counter() - started
    booking.book(ctx, error)
    raise error


async def _close(batches: AsyncIterator[list[Json]] | None) -> None:
    if batches is not None:
        # The stream is being abandoned; its own failure to close no longer matters.
        with contextlib.suppress(Exception):
            await batches.aclose()  # type: ignore[attr-defined]
