"""The simulator as an in-process provider: the same behaviours as the HTTP server, without sockets.

Faults surface as the Keel errors the HTTP codec would have produced for the same failure on the wire,
so pipeline tests exercise retries and fallbacks without a network. Time goes through the injected
clock and sleep, so tests can run simulated latency instantly.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import NoReturn

from keel.core.clock import Clock, SystemClock
from keel.core.errors import (
    ContentPolicyViolation,
    ContextWindowExceeded,
    KeelError,
    RateLimited,
    UpstreamBadResponse,
    UpstreamConnectionError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from keel.providers.base import Json
from keel.simulator.behaviour import Fault
from keel.simulator.engine import HANG_LIMIT_S, MID_STREAM_FAULTS, SimulatorEngine

Sleep = Callable[[float], Awaitable[None]]


class SimulatorProvider:
    """Serves one deployment; ``model`` is its upstream model name (configured or ``sim:...``)."""

    def __init__(
        self,
        engine: SimulatorEngine,
        model: str,
        *,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        self._engine = engine
        self._model = model
        self._clock = clock if clock is not None else SystemClock()
        self._sleep = sleep if sleep is not None else asyncio.sleep

    async def chat(self, body: Json) -> Json:
        plan = self._engine.plan_chat(body, model=self._model, now=self._clock.now())
        if plan.fault is not None and plan.fault.kind != "malformed_json":
            await self._fail(plan.fault)
        if plan.ttft_s:
            await self._sleep(plan.ttft_s)
        if plan.generation_s:
            await self._sleep(plan.generation_s)
        if plan.fault is not None:
            raise _malformed()
        return self._engine.completion(plan)

    async def chat_stream(self, body: Json) -> AsyncIterator[list[Json]]:
        plan = self._engine.plan_chat(body, model=self._model, now=self._clock.now())
        fault = plan.fault
        stop: int | None = None  # where a stream_cut or a stall hits
        malformed = False
        if fault is not None:
            if fault.kind in MID_STREAM_FAULTS:
                stop = fault.after_chunks
            elif fault.kind == "malformed_json":
                malformed = True  # the server sends the bad frame right after the role chunk
            else:
                await self._fail(fault)
        if plan.ttft_s:
            await self._sleep(plan.ttft_s)
        start = self._clock.monotonic()
        batch: list[Json] = []
        for index, (at, chunk) in enumerate(self._engine.chunks(plan)):
            if index == stop or (malformed and index == 1):
                if batch:
                    yield batch
                if index == stop:
                    assert fault is not None
                    await self._unfinished(fault)
                raise _malformed()
            delay = start + at - self._clock.monotonic()
            if delay > 0:
                if batch:  # what was due goes out together, as the server's single write would
                    yield batch
                    batch = []
                await self._sleep(delay)
            batch.append(chunk)
        if batch:
            yield batch
        if stop is not None:  # every chunk went out, but the stream never properly ended
            assert fault is not None
            await self._unfinished(fault)

    async def embeddings(self, body: Json) -> Json:
        plan = self._engine.plan_embeddings(body, model=self._model)
        if plan.fault is not None and plan.fault.kind != "malformed_json":
            await self._fail(plan.fault)
        if plan.ttft_s:
            await self._sleep(plan.ttft_s)
        if plan.fault is not None:
            raise _malformed()
        return self._engine.embeddings(plan)

    async def aclose(self) -> None:
        return None

    async def _fail(self, fault: Fault) -> None:
        """Raise what a fault looks like to Keel; ``hang`` first waits as long as the caller lets it
        (and so does ``stall``: a request that is not a stream has no chunks to stall after)."""
        kind = fault.kind
        if kind in ("hang", "stall"):
            await self._sleep(HANG_LIMIT_S)
            raise UpstreamTimeout("The simulated upstream did not answer.")
        raise _ERRORS[kind](fault)

    async def _unfinished(self, fault: Fault) -> NoReturn:
        """End a stream the way its mid-stream fault does: cut at once, or silent until given up on."""
        if fault.kind == "stall":
            await self._sleep(HANG_LIMIT_S)
            raise UpstreamTimeout("The simulated upstream stopped sending in the middle of the stream.")
        raise _cut()


def _cut() -> KeelError:
    return UpstreamConnectionError("The simulated upstream closed the stream before it ended.")


def _malformed() -> KeelError:
    return UpstreamBadResponse("The simulated upstream answered with malformed JSON.")


_ERRORS: dict[str, Callable[[Fault], KeelError]] = {
    "server_error": lambda _: UpstreamUnavailable("The simulated upstream failed with HTTP 500."),
    "overloaded": lambda _: UpstreamUnavailable("The simulated upstream is overloaded (HTTP 503)."),
    "rate_limit": lambda f: RateLimited(
        "The simulated upstream rate-limited the request.", retry_after_s=f.retry_after_s
    ),
    "connection_reset": lambda _: UpstreamConnectionError("The simulated upstream reset the connection."),
    # A request that is not a stream has no chunks to cut: the connection just drops.
    "stream_cut": lambda _: UpstreamConnectionError("The simulated upstream reset the connection."),
    "malformed_json": lambda _: _malformed(),
    "content_filter": lambda _: ContentPolicyViolation("The simulated upstream's content filter refused."),
    "context_length": lambda _: ContextWindowExceeded(
        "The messages exceed the simulated model's context window.", param="messages"
    ),
}
