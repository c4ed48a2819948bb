"""The ``stall`` fault: a stream that sends some chunks, then nothing, with its connection left open."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import openai
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiohttp.typedefs import Handler

from keel.core.errors import UpstreamTimeout
from keel.providers.simulator import SimulatorProvider
from keel.simulator.behaviour import Fault, SimulatedModel
from keel.simulator.config import format_model_name, parse_model_name
from keel.simulator.engine import HANG_LIMIT_S, SimulatorEngine
from keel.simulator.server import build_app
from tests.simulator.test_provider import BODY, FakeTime, provider

MESSAGES: Any = [{"role": "user", "content": "where is my invoice"}]
STALLED = "sim:tokens=8,fault=stall:1:3"


def test_the_name_carries_after_chunks() -> None:
    model = parse_model_name("sim:fault=stall:0.5:4")
    assert model.faults == (Fault(kind="stall", rate=0.5, after_chunks=4),)
    assert format_model_name(model) == "sim:fault=stall:0.5:4"
    assert parse_model_name("sim:fault=stall:1").faults[0].after_chunks == 2


class Handled:
    """Counts chat handlers that have returned, so a test can see a stalled one let go."""

    def __init__(self) -> None:
        self.finished = asyncio.Event()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        finally:
            self.finished.set()


@pytest.fixture
def handled() -> Handled:
    return Handled()


@pytest.fixture
async def server(handled: Handled) -> AsyncIterator[TestServer]:
    app = build_app(SimulatorEngine({}, SimulatedModel(), random.Random(1)))
    app.middlewares.append(handled.middleware)
    test_server = TestServer(app)
    await test_server.start_server()
    yield test_server
    await test_server.close()


async def test_a_stalled_stream_sends_its_chunks_then_stays_open_and_silent(
    server: TestServer, handled: Handled
) -> None:
    body = {"model": STALLED, "messages": MESSAGES, "stream": True}
    async with aiohttp.ClientSession() as http:
        async with http.post(server.make_url("/v1/chat/completions"), json=body) as response:
            assert response.status == 200
            received = b""
            async with asyncio.timeout(10):
                while received.count(b"data: ") < 3:
                    received += await response.content.readany()
            # Neither more data nor the end of the stream: a cut would end it, a stall keeps waiting.
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.3):
                    received += await response.content.readany()
            assert received.count(b"data: ") == 3 and b"[DONE]" not in received
        assert not handled.finished.is_set()
    # The client gave up: the handler notices and lets go long before HANG_LIMIT_S.
    await asyncio.wait_for(handled.finished.wait(), timeout=10)


async def test_a_stall_before_the_first_chunk_still_sends_the_headers(server: TestServer) -> None:
    body = {"model": "sim:fault=stall:1:0", "messages": MESSAGES, "stream": True}
    async with (
        aiohttp.ClientSession() as http,
        http.post(server.make_url("/v1/chat/completions"), json=body) as response,
    ):
        assert response.status == 200 and response.content_type == "text/event-stream"
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await response.content.readany()


async def test_a_request_that_is_not_a_stream_hangs(server: TestServer) -> None:
    async with openai.AsyncOpenAI(
        base_url=str(server.make_url("/v1")), api_key="x", max_retries=0, timeout=5
    ) as client:
        with pytest.raises(openai.APITimeoutError):
            await client.chat.completions.create(model=STALLED, messages=MESSAGES, timeout=0.2)
        with pytest.raises(openai.APITimeoutError):
            await client.embeddings.create(model=STALLED, input="x", timeout=0.2)


async def test_in_process_a_stall_yields_then_sleeps_until_given_up() -> None:
    time = FakeTime()
    received = []
    with pytest.raises(UpstreamTimeout):
        async for batch in provider(STALLED, time).chat_stream(BODY):
            received.extend(batch)
    assert len(received) == 3
    assert time.slept[-1] == HANG_LIMIT_S
    # With real time, the caller's deadline is what ends it.
    real = SimulatorProvider(SimulatorEngine({}, SimulatedModel()), STALLED)
    received.clear()

    async def consume() -> None:
        async for batch in real.chat_stream(BODY):
            received.extend(batch)

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(consume(), timeout=0.2)
    assert len(received) == 3


async def test_in_process_a_stall_past_the_last_chunk_never_ends_the_stream() -> None:
    time = FakeTime()
    received = []
    with pytest.raises(UpstreamTimeout):
        async for batch in provider("sim:tokens=1,fault=stall:1:99", time).chat_stream(BODY):
            received.extend(batch)
    assert len(received) == 3  # role, one token, finish: all of it, but never a proper end


async def test_in_process_a_request_that_is_not_a_stream_hangs() -> None:
    time = FakeTime()
    with pytest.raises(UpstreamTimeout):
        await provider(STALLED, time).chat(BODY)
    with pytest.raises(UpstreamTimeout):
        await provider(STALLED, time).embeddings({"model": "x", "input": "a"})
    assert time.slept == [HANG_LIMIT_S, HANG_LIMIT_S]
