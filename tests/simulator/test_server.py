"""The simulator's HTTP server, driven by the official OpenAI SDK."""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import openai
import orjson
import pytest
from aiohttp.test_utils import TestServer

from keel.simulator.behaviour import Fault, SimulatedModel
from keel.simulator.engine import SimulatorEngine
from keel.simulator.server import build_app

MESSAGES: Any = [{"role": "user", "content": "where is my invoice"}]
TOOLS: Any = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    engine = SimulatorEngine(
        {
            "fast": SimulatedModel(output_tokens=5),
            "tiny": SimulatedModel(context_window=2),
            "cut": SimulatedModel(faults=(Fault(kind="stream_cut", rate=1, after_chunks=3),)),
        },
        SimulatedModel(),
        random.Random(3),
    )
    test_server = TestServer(build_app(engine))
    await test_server.start_server()
    yield test_server
    await test_server.close()


@pytest.fixture
async def client(server: TestServer) -> AsyncIterator[openai.AsyncOpenAI]:
    sdk = openai.AsyncOpenAI(
        base_url=str(server.make_url("/v1")),
        api_key="x",
        max_retries=0,
        timeout=5,
        http_client=openai.DefaultAsyncHttpxClient(verify=False),  # plain HTTP; skips loading CA certs
    )
    yield sdk
    await sdk.close()


async def test_chat(client: openai.AsyncOpenAI) -> None:
    done = await client.chat.completions.create(model="fast", messages=MESSAGES)
    assert done.model == "fast"
    assert done.choices[0].message.content == "where is my invoice where"
    assert done.choices[0].finish_reason == "stop"
    assert done.usage is not None and done.usage.total_tokens == 4 + 5


async def test_chat_n_choices(client: openai.AsyncOpenAI) -> None:
    done = await client.chat.completions.create(model="fast", messages=MESSAGES, n=2)
    assert [c.index for c in done.choices] == [0, 1]
    assert done.choices[0].message.content == done.choices[1].message.content


async def test_stream(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model="sim:tokens=6,tps=1000", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "where is my invoice where is"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 6


async def test_stream_takes_time_per_token(client: openai.AsyncOpenAI) -> None:
    started = time.perf_counter()
    stream = await client.chat.completions.create(model="sim:ttft=10,tps=200,tokens=5", messages=MESSAGES, stream=True)
    async for _ in stream:
        pass
    assert time.perf_counter() - started >= 0.010 + 4 * 0.005


async def test_tools(client: openai.AsyncOpenAI) -> None:
    done = await client.chat.completions.create(model="fast", messages=MESSAGES, tools=TOOLS)
    assert done.choices[0].finish_reason == "tool_calls"
    call = done.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "lookup"  # type: ignore[union-attr]
    stream = await client.chat.completions.create(model="fast", messages=MESSAGES, tools=TOOLS, stream=True)
    chunks = [chunk async for chunk in stream]
    calls = [t for c in chunks for t in c.choices[0].delta.tool_calls or []]
    assert calls[0].function is not None and calls[0].function.name == "lookup"
    assert "".join(t.function.arguments or "" for t in calls if t.function) == "{}"
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


async def test_json_mode(client: openai.AsyncOpenAI) -> None:
    done = await client.chat.completions.create(
        model="fast", messages=MESSAGES, response_format={"type": "json_object"}
    )
    assert isinstance(orjson.loads(done.choices[0].message.content or ""), dict)


async def test_embeddings(client: openai.AsyncOpenAI) -> None:
    # The SDK asks for base64 by default and decodes it; ask for floats too and compare.
    packed = await client.embeddings.create(model="fast", input=["a", "b"])
    floats = await client.embeddings.create(model="fast", input=["a", "b"], encoding_format="float")
    assert len(packed.data) == 2 and len(packed.data[0].embedding) == 16
    assert packed.data[0].embedding == pytest.approx(floats.data[0].embedding, abs=1e-6)
    small = await client.embeddings.create(model="fast", input="a", dimensions=8)
    assert len(small.data[0].embedding) == 8


async def test_models_and_health(client: openai.AsyncOpenAI, server: TestServer) -> None:
    listed = await client.models.list()
    assert [m.id for m in listed.data] == ["fast", "tiny", "cut"]
    async with aiohttp.ClientSession() as http, http.get(server.make_url("/healthz")) as response:
        assert response.status == 200


async def test_bad_requests(client: openai.AsyncOpenAI, server: TestServer) -> None:
    with pytest.raises(openai.BadRequestError):
        await client.chat.completions.create(model="fast", messages=[])
    with pytest.raises(openai.BadRequestError, match="unknown directive"):
        await client.chat.completions.create(model="sim:wat=1", messages=MESSAGES)
    url = server.make_url("/v1/chat/completions")
    async with aiohttp.ClientSession() as http, http.post(url, data=b"{not json") as response:
        assert response.status == 400
        body = await response.json()
        assert body["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("server_error", openai.InternalServerError),
        ("overloaded", openai.InternalServerError),
        ("rate_limit", openai.RateLimitError),
        ("connection_reset", openai.APIConnectionError),
        ("stream_cut", openai.APIConnectionError),
        ("content_filter", openai.BadRequestError),
        ("context_length", openai.BadRequestError),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_faults(client: openai.AsyncOpenAI, kind: str, error: type[Exception], stream: bool) -> None:
    with pytest.raises(error):
        if stream:
            chunks = await client.chat.completions.create(model=f"sim:fault={kind}:1", messages=MESSAGES, stream=True)
            async for _ in chunks:
                pass
        else:
            await client.chat.completions.create(model=f"sim:fault={kind}:1", messages=MESSAGES)


async def test_fault_error_bodies(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as limited:
        await client.chat.completions.create(model="sim:fault=rate_limit:1:2.5", messages=MESSAGES)
    assert limited.value.response.headers["retry-after"] == "3"
    assert limited.value.code == "rate_limit_exceeded"
    with pytest.raises(openai.BadRequestError) as refused:
        await client.chat.completions.create(model="sim:fault=content_filter:1", messages=MESSAGES)
    assert refused.value.code == "content_policy_violation"
    with pytest.raises(openai.BadRequestError) as too_long:
        await client.chat.completions.create(model="tiny", messages=MESSAGES)  # 4 words > 2
    assert too_long.value.code == "context_length_exceeded"


async def test_stream_cut_after_chunks(client: openai.AsyncOpenAI) -> None:
    received = []
    with pytest.raises(openai.APIConnectionError):
        stream = await client.chat.completions.create(model="cut", messages=MESSAGES, stream=True)
        async for chunk in stream:
            received.append(chunk)
    assert len(received) == 3


async def test_embeddings_faults(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.RateLimitError):
        await client.embeddings.create(model="sim:fault=rate_limit:1", input="x")
    with pytest.raises(openai.APIConnectionError):
        await client.embeddings.create(model="sim:fault=connection_reset:1", input="x")


async def test_malformed_json(client: openai.AsyncOpenAI, server: TestServer) -> None:
    body = {"model": "sim:fault=malformed_json:1", "messages": MESSAGES}
    url = server.make_url("/v1/chat/completions")
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json=body) as response:
            assert response.status == 200
            with pytest.raises(ValueError):
                orjson.loads(await response.read())
        async with http.post(url, json={**body, "stream": True}) as response:
            lines = [line for line in (await response.read()).split(b"\n\n") if line.startswith(b"data: {")]
            with pytest.raises(ValueError):
                for line in lines:
                    orjson.loads(line[len(b"data: ") :])
    with pytest.raises(ValueError):  # the SDK fails decoding rather than returning a completion
        await client.chat.completions.create(model="sim:fault=malformed_json:1", messages=MESSAGES)


async def test_hang_until_the_client_gives_up(client: openai.AsyncOpenAI) -> None:
    started = time.perf_counter()
    with pytest.raises(openai.APITimeoutError):
        await client.chat.completions.create(model="sim:fault=hang:1", messages=MESSAGES, timeout=0.2)
    assert time.perf_counter() - started >= 0.2
