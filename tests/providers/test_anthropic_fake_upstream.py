"""The fake Anthropic upstream speaks the real protocol, and the codec works against it over HTTP.

The first half drives the official ``anthropic`` SDK client at the fake: if the SDK parses the fake's
answers, streams and errors, the fake is faithful. The second half sends the codec's own HTTP calls
to the fake and decodes what comes back, the way the gateway will.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import anthropic
import pytest
from aiohttp.test_utils import BaseTestServer, TestServer
from anthropic.types import TextBlock, ToolUseBlock, Usage
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from keel.core.errors import (
    InvalidRequest,
    PayloadTooLarge,
    RateLimited,
    UpstreamBadResponse,
    UpstreamRejected,
    UpstreamUnavailable,
)
from keel.providers.anthropic import AnthropicCodec
from keel.providers.base import HttpCall, SseEvent, Target
from tests.fakes.anthropic_upstream import AnthropicUpstream, Failure, Reply, request_problems

Json = dict[str, Any]

API_KEY = "sk-ant-fake"
CODEC = AnthropicCodec()


@dataclass
class Env:
    upstream: AnthropicUpstream
    server: BaseTestServer
    sdk: anthropic.AsyncAnthropic
    http: aiohttp.ClientSession
    target: Target = field(init=False)

    def __post_init__(self) -> None:
        self.target = Target(
            api_base=str(self.server.make_url("")),
            model="claude-sonnet-4-5",
            api_key=API_KEY,
            auth_header="x-api-key",
        )


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    upstream = AnthropicUpstream(api_key=API_KEY)
    async with TestServer(upstream.app) as server, aiohttp.ClientSession() as http:
        sdk = anthropic.AsyncAnthropic(api_key=API_KEY, base_url=str(server.make_url("")), max_retries=0)
        try:
            yield Env(upstream, server, sdk, http)
        finally:
            await sdk.close()


WEATHER_CALL = ToolUseBlock(type="tool_use", id="toolu_01", name="get_weather", input={"city": "Paris", "unit": "C"})
HELLO: list[Any] = [{"role": "user", "content": "Hello"}]


# --------------------------------------------------------------------------- the SDK against the fake


async def test_sdk_reads_a_message(env: Env) -> None:
    env.upstream.reply_text("Bonjour!", usage=Usage(input_tokens=5, cache_read_input_tokens=2, output_tokens=3))
    message = await env.sdk.messages.create(model="claude-fake-1", max_tokens=50, messages=HELLO)
    assert message.model == "claude-fake-1"
    assert message.content == [TextBlock(type="text", text="Bonjour!")]
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.cache_read_input_tokens) == (5, 2)


async def test_sdk_accumulates_a_streamed_message(env: Env) -> None:
    env.upstream.enqueue(
        Reply(
            [TextBlock(type="text", text="Checking the weather."), WEATHER_CALL], stop_reason="tool_use", json_chunk=3
        )
    )
    async with env.sdk.messages.stream(model="claude-fake-1", max_tokens=50, messages=HELLO) as stream:
        kinds = [event.type async for event in stream]
        message = await stream.get_final_message()
    assert message.stop_reason == "tool_use"
    assert message.content[0].type == "text" and message.content[0].text == "Checking the weather."
    assert message.content[1].type == "tool_use" and message.content[1].input == WEATHER_CALL.input
    assert message.usage.output_tokens == 7
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert {"content_block_start", "content_block_delta", "content_block_stop", "message_delta"} <= set(kinds)


@pytest.mark.parametrize(
    ("failure", "sdk_error"),
    [
        (Failure(529, "overloaded_error", "Overloaded"), anthropic.OverloadedError),
        (Failure(500, "api_error", "Internal server error"), anthropic.InternalServerError),
        (Failure(429, "rate_limit_error", "slow down", {"retry-after": "3"}), anthropic.RateLimitError),
        (Failure(400, "invalid_request_error", "prompt is too long"), anthropic.BadRequestError),
        (Failure(404, "not_found_error", "model: nope"), anthropic.NotFoundError),
        (Failure(413, "request_too_large", "Request exceeds the maximum size"), anthropic.ContentTooLargeError),
    ],
)
async def test_sdk_reads_scripted_errors(env: Env, failure: Failure, sdk_error: type[anthropic.APIStatusError]) -> None:
    env.upstream.enqueue(failure)
    with pytest.raises(sdk_error) as caught:
        await env.sdk.messages.create(model="m", max_tokens=5, messages=HELLO)
    assert caught.value.status_code == failure.status
    assert caught.value.body["error"] == {"type": failure.error_type, "message": failure.message}  # type: ignore[index]
    if failure.headers:
        assert caught.value.response.headers["retry-after"] == "3"


async def test_sdk_sees_a_mid_stream_error_event(env: Env) -> None:
    env.upstream.reply_text("Hello there", error_after=4, error=Failure(529, "overloaded_error", "Overloaded"))
    with pytest.raises(anthropic.APIStatusError, match="overloaded_error"):
        async with env.sdk.messages.stream(model="m", max_tokens=5, messages=HELLO) as stream:
            await stream.get_final_message()


async def test_a_wrong_key_is_refused(env: Env) -> None:
    other = anthropic.AsyncAnthropic(api_key="wrong", base_url=str(env.server.make_url("")), max_retries=0)
    try:
        with pytest.raises(anthropic.AuthenticationError):
            await other.messages.create(model="m", max_tokens=5, messages=HELLO)
    finally:
        await other.close()


async def test_the_fake_rejects_what_the_real_api_would(env: Env) -> None:
    with pytest.raises(anthropic.BadRequestError, match="extra inputs are not permitted"):
        await env.sdk.messages.create(model="m", max_tokens=5, messages=HELLO, extra_body={"frequency_penalty": 1})
    orphan_tool_use: list[Any] = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [WEATHER_CALL.model_dump()]},
        {"role": "user", "content": "where is my answer?"},
    ]
    with pytest.raises(anthropic.BadRequestError, match="tool_use ids without tool_result"):
        await env.sdk.messages.create(model="m", max_tokens=5, messages=orphan_tool_use)


def test_request_problems_checks_sampling_ranges() -> None:
    body: Json = {"model": "m", "max_tokens": 5, "messages": HELLO, "temperature": 1.5, "top_p": 0.5, "top_k": -1}
    assert request_problems(body) == [
        "temperature: must be a number between 0 and 1",
        "top_k: must be a non-negative integer",
    ]


# --------------------------------------------------------------------------- the codec against the fake


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    failure: Exception | None = None


async def send(env: Env, call: HttpCall) -> Answer:
    async with env.http.request(call.method, call.url, headers=dict(call.headers), data=call.body) as response:
        body = b""
        try:
            async for piece in response.content.iter_any():
                body += piece
        except aiohttp.ClientPayloadError as exc:
            return Answer(response.status, dict(response.headers), body, exc)
        return Answer(response.status, dict(response.headers), body)


def parse_sse(raw: bytes) -> list[SseEvent]:
    events = []
    for block in raw.replace(b"\r\n", b"\n").split(b"\n\n"):
        name: str | None = None
        data: list[bytes] = []
        for line in block.split(b"\n"):
            if line.startswith(b"event:"):
                name = line[6:].strip().decode()
            elif line.startswith(b"data:"):
                data.append(line[5:].removeprefix(b" "))
        if name is not None or data:
            events.append(SseEvent(data=b"\n".join(data), event=name))
    return events


async def complete(env: Env, body: Json) -> Json:
    answer = await send(env, CODEC.chat_request(body, env.target, stream=False))
    if answer.status >= 400:
        raise CODEC.classify_error(answer.status, answer.headers, answer.body)
    return CODEC.chat_response(answer.body, env.target)


async def stream(env: Env, body: Json) -> tuple[list[Json], bool, Exception | None]:
    answer = await send(env, CODEC.chat_request({**body, "stream": True}, env.target, stream=True))
    if answer.status >= 400:
        raise CODEC.classify_error(answer.status, answer.headers, answer.body)
    decoder = CODEC.stream_decoder(body, env.target)
    chunks = [chunk for event in parse_sse(answer.body) for chunk in decoder.feed(event)]
    return chunks, decoder.done, answer.failure


def chat(*messages: Json, **fields: Any) -> Json:
    return {"model": "my-route", "messages": list(messages), **fields}


async def test_codec_completes_a_chat(env: Env) -> None:
    env.upstream.reply_text("Hi from Claude.")
    completion = ChatCompletion.model_validate(await complete(env, chat({"role": "user", "content": "Hello"})))
    assert completion.choices[0].message.content == "Hi from Claude."
    assert completion.model == "claude-sonnet-4-5"
    received = env.upstream.requests[-1]
    assert received.body["model"] == "claude-sonnet-4-5"
    assert received.headers["x-api-key"] == API_KEY
    assert received.headers["anthropic-version"] == "2023-06-01"


async def test_codec_runs_a_tool_conversation_the_fake_accepts(env: Env) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    env.upstream.enqueue(Reply([WEATHER_CALL], stop_reason="tool_use"))
    first = await complete(env, chat({"role": "user", "content": "Weather in Paris?"}, tools=tools))
    reply = first["choices"][0]["message"]
    assert first["choices"][0]["finish_reason"] == "tool_calls"
    env.upstream.reply_text("18 degrees and sunny.")
    second = await complete(
        env,
        chat(
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Paris?"},
            reply,
            {"role": "tool", "tool_call_id": reply["tool_calls"][0]["id"], "content": '{"temp": 18}'},
            tools=tools,
            tool_choice="auto",
            parallel_tool_calls=False,
            temperature=0.3,
        ),
    )
    assert second["choices"][0]["message"]["content"] == "18 degrees and sunny."
    sent = env.upstream.requests[-1].body
    assert sent["messages"][1]["content"][0]["input"] == {"city": "Paris", "unit": "C"}
    assert sent["messages"][2]["content"][0]["type"] == "tool_result"


async def test_codec_streams_a_chat_with_usage(env: Env) -> None:
    env.upstream.enqueue(
        Reply(
            [TextBlock(type="text", text="Streaming works."), WEATHER_CALL],
            stop_reason="tool_use",
            usage=Usage(input_tokens=20, cache_creation_input_tokens=4, output_tokens=12),
        )
    )
    chunks, done, failure = await stream(
        env, chat({"role": "user", "content": "Go"}, stream_options={"include_usage": True})
    )
    assert done and failure is None
    parsed = [ChatCompletionChunk.model_validate(c) for c in chunks]
    assert "".join(c.choices[0].delta.content or "" for c in parsed if c.choices) == "Streaming works."
    arguments = "".join(
        call.function.arguments or ""
        for c in parsed
        if c.choices
        for call in c.choices[0].delta.tool_calls or []
        if call.function
    )
    assert json.loads(arguments) == WEATHER_CALL.input
    assert parsed[-2].choices[0].finish_reason == "tool_calls"
    assert parsed[-1].usage is not None
    assert (parsed[-1].usage.prompt_tokens, parsed[-1].usage.completion_tokens) == (24, 12)


async def test_codec_sees_a_stream_that_ends_early(env: Env) -> None:
    env.upstream.reply_text("This will be cut", cut_after=5)
    chunks, done, failure = await stream(env, chat({"role": "user", "content": "Go"}))
    assert chunks and not done and failure is None


async def test_codec_sees_a_dropped_connection(env: Env) -> None:
    env.upstream.reply_text("This will be cut", cut_after=5, abort=True)
    _, done, failure = await stream(env, chat({"role": "user", "content": "Go"}))
    assert not done
    assert isinstance(failure, aiohttp.ClientPayloadError)


async def test_codec_raises_a_mid_stream_error(env: Env) -> None:
    env.upstream.reply_text("Hello", error_after=3, error=Failure(529, "overloaded_error", "Overloaded"))
    with pytest.raises(UpstreamUnavailable, match="anthropic: Overloaded"):
        await stream(env, chat({"role": "user", "content": "Go"}))


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (Failure(529, "overloaded_error", "Overloaded"), UpstreamUnavailable),
        (Failure(429, "rate_limit_error", "slow down", {"retry-after": "7"}), RateLimited),
        (Failure(413, "request_too_large", "too big"), PayloadTooLarge),
        (Failure(403, "permission_error", "denied"), UpstreamRejected),
    ],
)
async def test_codec_classifies_http_failures(env: Env, failure: Failure, expected: type[Exception]) -> None:
    env.upstream.enqueue(failure)
    with pytest.raises(expected) as caught:
        await complete(env, chat({"role": "user", "content": "Go"}))
    if isinstance(caught.value, RateLimited):
        assert caught.value.retry_after_s == 7.0


async def test_codec_classifies_the_fakes_own_rejections(env: Env) -> None:
    with pytest.raises(InvalidRequest, match="temperature"):
        await complete(env, chat({"role": "user", "content": "Go"}, temperature=1.7))
    wrong_key = Target(api_base=env.target.api_base, model="m", api_key="nope", auth_header="x-api-key")
    answer = await send(env, CODEC.chat_request(chat({"role": "user", "content": "Go"}), wrong_key, stream=False))
    assert isinstance(CODEC.classify_error(answer.status, answer.headers, answer.body), UpstreamRejected)


async def test_codec_rejects_a_garbage_200(env: Env) -> None:
    env.upstream.raw(200, b"<html>captive portal</html>", "text/html")
    with pytest.raises(UpstreamBadResponse):
        await complete(env, chat({"role": "user", "content": "Go"}))
