"""The in-process simulator provider: same behaviours, faults as Keel errors, injectable time."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from openai.types import CreateEmbeddingResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from keel.core.errors import (
    ContentPolicyViolation,
    ContextWindowExceeded,
    InvalidRequest,
    KeelError,
    RateLimited,
    UpstreamBadResponse,
    UpstreamConnectionError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from keel.providers.base import Provider
from keel.providers.simulator import SimulatorProvider
from keel.simulator.behaviour import SimulatedModel
from keel.simulator.engine import HANG_LIMIT_S, SimulatorEngine

BODY: dict[str, Any] = {"model": "client-alias", "messages": [{"role": "user", "content": "hi there"}]}


class FakeTime:
    """A clock whose sleeps return at once and move time forward."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.t

    def now(self) -> float:
        return 1_700_000_000.0 + self.t

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


def provider(model: str, time: FakeTime | None = None) -> SimulatorProvider:
    engine = SimulatorEngine({"upstream-a": SimulatedModel(output_tokens=3)}, SimulatedModel(), random.Random(5))
    time = time or FakeTime()
    return SimulatorProvider(engine, model, clock=time, sleep=time.sleep)


async def test_chat_uses_the_deployment_model() -> None:
    sim: Provider = provider("upstream-a")
    done = ChatCompletion.model_validate(await sim.chat(BODY))
    assert done.model == "upstream-a"
    assert done.choices[0].message.content == "hi there hi"
    assert done.created == 1_700_001_000
    await sim.aclose()


async def test_latency_goes_through_the_injected_sleep() -> None:
    time = FakeTime()
    sim = provider("sim:ttft=40,tps=100,tokens=5", time)
    await sim.chat(BODY)
    assert time.slept == pytest.approx([0.040, 4 * 0.010])
    time.slept.clear()
    chunks = [ChatCompletionChunk.model_validate(c) async for batch in sim.chat_stream(BODY) for c in batch]
    assert time.slept == pytest.approx([0.040] + [0.010] * 4)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "hi there hi there hi"
    assert chunks[-1].choices[0].finish_reason == "stop"


async def test_embeddings() -> None:
    reply = CreateEmbeddingResponse.model_validate(
        await provider("sim:dim=8").embeddings({"model": "x", "input": ["a", "b"]})
    )
    assert reply.model == "sim:dim=8"
    assert [len(d.embedding) for d in reply.data] == [8, 8]


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("server_error", UpstreamUnavailable),
        ("overloaded", UpstreamUnavailable),
        ("rate_limit", RateLimited),
        ("connection_reset", UpstreamConnectionError),
        ("stream_cut", UpstreamConnectionError),
        ("malformed_json", UpstreamBadResponse),
        ("hang", UpstreamTimeout),
        ("stall", UpstreamTimeout),
        ("content_filter", ContentPolicyViolation),
        ("context_length", ContextWindowExceeded),
    ],
)
async def test_faults_become_keel_errors(kind: str, error: type[KeelError]) -> None:
    sim = provider(f"sim:fault={kind}:1")
    with pytest.raises(error):
        await sim.chat(BODY)
    with pytest.raises(error):
        async for _ in sim.chat_stream(BODY):
            pass
    with pytest.raises(error):
        await sim.embeddings({"model": "x", "input": "a"})


async def test_rate_limit_carries_retry_after() -> None:
    with pytest.raises(RateLimited) as caught:
        await provider("sim:fault=rate_limit:1:7").chat(BODY)
    assert caught.value.retry_after_s == 7
    assert caught.value.headers["retry-after"] == "7"


async def test_stream_cut_yields_then_raises() -> None:
    received = []
    with pytest.raises(UpstreamConnectionError):
        async for batch in provider("sim:fault=stream_cut:1:3").chat_stream(BODY):
            received.extend(batch)
    assert len(received) == 3
    # A cut past the last chunk still never ends the stream properly.
    received.clear()
    with pytest.raises(UpstreamConnectionError):
        async for batch in provider("sim:tokens=1,fault=stream_cut:1:99").chat_stream(BODY):
            received.extend(batch)
    assert len(received) == 3


async def test_hang_sleeps_until_cancelled() -> None:
    time = FakeTime()
    with pytest.raises(UpstreamTimeout):
        await provider("sim:fault=hang:1", time).chat(BODY)
    assert time.slept == [HANG_LIMIT_S]
    real = SimulatorProvider(SimulatorEngine({}, SimulatedModel()), "sim:fault=hang:1")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(real.chat(BODY), timeout=0.02)


async def test_context_window_and_bad_names() -> None:
    with pytest.raises(ContextWindowExceeded):
        await provider("sim:ctx=1").chat(BODY)
    with pytest.raises(InvalidRequest, match="unknown directive"):
        await provider("sim:nope=1").chat(BODY)
