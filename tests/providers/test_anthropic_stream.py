"""The anthropic stream decoder: Anthropic SSE events → OpenAI ``chat.completion.chunk`` objects.

Upstream events are the ones the fake upstream streams, built from the SDK's event types; every
chunk produced is checked with the OpenAI SDK's ``ChatCompletionChunk``.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from anthropic.types import (
    Message,
    RawContentBlockDeltaEvent,
    RawContentBlockStartEvent,
    RawMessageStartEvent,
    ServerToolUseBlock,
    TextBlock,
    ThinkingBlock,
    ThinkingDelta,
    ToolUseBlock,
    Usage,
)
from hypothesis import given
from hypothesis import strategies as st
from openai.types.chat import ChatCompletionChunk

from keel.core.errors import (
    ContextWindowExceeded,
    InvalidRequest,
    KeelError,
    RateLimited,
    UpstreamBadResponse,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from keel.providers.anthropic import AnthropicCodec
from keel.providers.anthropic_stream import AnthropicStreamDecoder
from keel.providers.base import SseEvent, Target
from tests.fakes.anthropic_upstream import PING, error_body, stream_events

Json = dict[str, Any]

TARGET = Target(api_base="https://api.anthropic.com", model="claude-sonnet-4-5", api_key="k", auth_header="x-api-key")
CODEC = AnthropicCodec()


def message(*content: TextBlock | ToolUseBlock, **fields: Any) -> Message:
    defaults: Json = {
        "id": "msg_stream",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": list(content),
        "stop_reason": "end_turn",
        "usage": Usage(input_tokens=30, output_tokens=9),
    }
    return Message(**{**defaults, **fields})


def sse(event: Json) -> SseEvent:
    return SseEvent(data=orjson.dumps(event), event=event.get("type"))


def run(events: list[Json], *, include_usage: bool = False) -> tuple[list[ChatCompletionChunk], AnthropicStreamDecoder]:
    body: Json = {"model": "alias", "messages": [], "stream": True}
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    decoder = CODEC.stream_decoder(body, TARGET)
    chunks = [ChatCompletionChunk.model_validate(c) for e in events for c in decoder.feed(sse(e))]
    return chunks, decoder


def content_of(chunks: list[ChatCompletionChunk]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_text_stream() -> None:
    chunks, decoder = run(stream_events(message(TextBlock(type="text", text="Hello, streaming world!"))))
    assert decoder.done
    first = chunks[0]
    assert first.id == "chatcmpl-msg_stream"
    assert first.object == "chat.completion.chunk"
    assert first.model == "claude-sonnet-4-5-20250929"
    assert first.choices[0].delta.role == "assistant"
    assert first.choices[0].delta.content == ""
    assert content_of(chunks) == "Hello, streaming world!"
    assert [c.choices[0].finish_reason for c in chunks] == [None] * (len(chunks) - 1) + ["stop"]
    assert chunks[-1].choices[0].delta.content is None
    assert all(c.id == first.id and c.created == first.created for c in chunks)
    assert all(c.usage is None for c in chunks)


def test_tool_call_stream() -> None:
    events = stream_events(
        message(
            TextBlock(type="text", text="Let me look."),
            ToolUseBlock(type="tool_use", id="toolu_a", name="get_weather", input={"city": "Paris"}),
            ToolUseBlock(type="tool_use", id="toolu_b", name="get_time", input={"zone": "Europe/Oslo", "fmt": [1, 2]}),
            stop_reason="tool_use",
        ),
        json_chunk=4,
    )
    chunks, decoder = run(events)
    assert decoder.done
    assert content_of(chunks) == "Let me look."
    calls = [call for c in chunks if c.choices for call in c.choices[0].delta.tool_calls or []]
    openings = [call for call in calls if call.id is not None]
    assert [(o.index, o.id, o.type) for o in openings] == [(0, "toolu_a", "function"), (1, "toolu_b", "function")]
    assert [o.function.name for o in openings if o.function] == ["get_weather", "get_time"]
    arguments = {0: "", 1: ""}
    for call in calls:
        assert call.function is not None
        arguments[call.index] += call.function.arguments or ""
    assert json.loads(arguments[0]) == {"city": "Paris"}
    assert json.loads(arguments[1]) == {"zone": "Europe/Oslo", "fmt": [1, 2]}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
    ],
)
def test_stop_reasons(stop_reason: str, finish_reason: str) -> None:
    chunks, _ = run(stream_events(message(TextBlock(type="text", text="x"), stop_reason=stop_reason)))
    assert chunks[-1].choices[0].finish_reason == finish_reason


def test_include_usage_adds_a_final_usage_chunk() -> None:
    usage = Usage(input_tokens=30, cache_creation_input_tokens=5, cache_read_input_tokens=100, output_tokens=42)
    chunks, decoder = run(stream_events(message(TextBlock(type="text", text="Hi"), usage=usage)), include_usage=True)
    assert decoder.done
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens, last.usage.total_tokens) == (135, 42, 177)
    assert last.usage.prompt_tokens_details is not None
    assert last.usage.prompt_tokens_details.cached_tokens == 100
    assert all(c.usage is None for c in chunks[:-1])
    assert chunks[-2].choices[0].finish_reason == "stop"


def test_usage_takes_input_from_message_start_and_output_from_message_delta() -> None:
    events: list[Json] = [
        {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": "claude-haiku-4-5",
                "content": [],
                "stop_reason": None,
                "usage": {"input_tokens": 17, "cache_read_input_tokens": 3, "output_tokens": 1},
            },
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "ok"}},
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 8},
        },
        {"type": "message_stop"},
    ]
    chunks, _ = run(events, include_usage=True)
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.model_dump(exclude_none=True) == {
        "prompt_tokens": 20,
        "completion_tokens": 8,
        "total_tokens": 28,
        "prompt_tokens_details": {"cached_tokens": 3},
    }


def test_no_usage_chunk_unless_asked() -> None:
    chunks, _ = run(stream_events(message(TextBlock(type="text", text="Hi"))))
    assert all(c.choices for c in chunks)
    raw = CODEC.stream_decoder({"stream_options": {"include_usage": False}}, TARGET)
    out = [c for e in stream_events(message(TextBlock(type="text", text="Hi"))) for c in raw.feed(sse(e))]
    assert all("usage" not in c for c in out)


def test_pings_and_block_stops_produce_nothing() -> None:
    decoder = CODEC.stream_decoder({}, TARGET)
    assert decoder.feed(sse(PING)) == []
    decoder.feed(sse(stream_events(message())[0]))
    assert decoder.feed(sse(PING)) == []
    assert decoder.feed(sse({"type": "content_block_stop", "index": 0})) == []
    assert decoder.feed(SseEvent(data=b"")) == []


def test_thinking_and_server_tool_blocks_are_skipped_without_shifting_tool_indexes() -> None:
    start = stream_events(message())[0]
    events = [
        start,
        RawContentBlockStartEvent(
            type="content_block_start", index=0, content_block=ThinkingBlock(type="thinking", thinking="", signature="")
        ).model_dump(mode="json"),
        RawContentBlockDeltaEvent(
            type="content_block_delta", index=0, delta=ThinkingDelta(type="thinking_delta", thinking="hmm")
        ).model_dump(mode="json"),
        RawContentBlockStartEvent(
            type="content_block_start",
            index=1,
            content_block=ServerToolUseBlock(type="server_tool_use", id="srvtoolu_1", name="web_search", input={}),
        ).model_dump(mode="json"),
        {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"q":1}'}},
        RawContentBlockStartEvent(
            type="content_block_start",
            index=2,
            content_block=ToolUseBlock(type="tool_use", id="toolu_x", name="f", input={}),
        ).model_dump(mode="json"),
        {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "{}"}},
        {"type": "content_block_delta", "index": 2, "delta": {"type": "signature_delta", "signature": "abc"}},
        {"type": "some_future_event", "detail": 1},
    ]
    chunks, _ = run(events)
    calls = [call for c in chunks for call in c.choices[0].delta.tool_calls or []]
    assert [(c.index, c.id) for c in calls] == [(0, "toolu_x"), (0, None)]
    assert content_of(chunks) == ""


def test_the_event_name_stands_in_for_a_missing_type() -> None:
    decoder = CODEC.stream_decoder({}, TARGET)
    decoder.feed(sse(stream_events(message())[0]))
    assert decoder.feed(SseEvent(data=b"{}", event="message_stop")) == []
    assert decoder.done


def test_a_stream_cut_short_is_not_done() -> None:
    events = stream_events(message(TextBlock(type="text", text="partial answer")))
    _, decoder = run(events[:-2])
    assert not decoder.done


@pytest.mark.parametrize(
    ("error_type", "message_text", "expected"),
    [
        ("overloaded_error", "Overloaded", UpstreamUnavailable),
        ("api_error", "Internal server error", UpstreamUnavailable),
        ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit", RateLimited),
        ("invalid_request_error", "messages: roles must alternate", InvalidRequest),
        ("invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum", ContextWindowExceeded),
        ("timeout_error", "Request timed out", UpstreamTimeout),
        ("permission_error", "no access", UpstreamRejected),
        ("some_new_error", "???", UpstreamUnavailable),
    ],
)
def test_an_error_event_raises_the_classified_error(
    error_type: str, message_text: str, expected: type[KeelError]
) -> None:
    events = stream_events(message(TextBlock(type="text", text="Hello there")))[:4]
    decoder = CODEC.stream_decoder({}, TARGET)
    for event in events:
        decoder.feed(sse(event))
    with pytest.raises(expected) as caught:
        decoder.feed(sse(error_body(error_type, message_text)))
    assert type(caught.value) is expected
    assert caught.value.message == f"anthropic: {message_text}"
    assert not decoder.done


def test_an_error_before_anything_else_is_still_classified() -> None:
    decoder = CODEC.stream_decoder({}, TARGET)
    with pytest.raises(UpstreamUnavailable):
        decoder.feed(SseEvent(data=orjson.dumps(error_body("overloaded_error", "Overloaded")), event="error"))


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[1, 2]",
        b'{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "early"}}',
        b'{"type": "message_start"}',
        b'{"type": "message_start", "message": {"id": 1, "model": "m"}}',
    ],
)
def test_unparseable_events_are_bad_responses(data: bytes) -> None:
    decoder = CODEC.stream_decoder({}, TARGET)
    with pytest.raises(UpstreamBadResponse):
        decoder.feed(SseEvent(data=data))


@pytest.mark.parametrize(
    "event",
    [
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta"}},
        {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "x"}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "name": "f"}},
        {"type": "message_delta", "usage": {"output_tokens": 3}},
        {"type": "message_delta", "delta": {}, "usage": {"output_tokens": "3"}},
    ],
)
def test_malformed_events_after_the_start_are_bad_responses(event: Json) -> None:
    decoder = CODEC.stream_decoder({}, TARGET)
    decoder.feed(sse(stream_events(message())[0]))
    with pytest.raises(UpstreamBadResponse):
        decoder.feed(sse(event))


def _text_events(pieces: list[str]) -> list[Json]:
    start = RawMessageStartEvent(type="message_start", message=message()).model_dump(mode="json")
    return [
        start,
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        *({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}} for p in pieces),
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}},
        {"type": "message_stop"},
    ]


@given(st.lists(st.text(max_size=20), max_size=30))
def test_any_text_deltas_concatenate_to_the_same_content(pieces: list[str]) -> None:
    chunks, decoder = run(_text_events(pieces))
    assert content_of(chunks) == "".join(pieces)
    assert decoder.done


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=5), st.integers(min_value=1, max_value=15))
def test_any_argument_split_reassembles_to_the_tool_input(tool_input: Json, chunk: int) -> None:
    events = stream_events(
        message(ToolUseBlock(type="tool_use", id="toolu_h", name="f", input=tool_input), stop_reason="tool_use"),
        json_chunk=chunk,
    )
    chunks, _ = run(events)
    arguments = "".join(
        call.function.arguments or ""
        for c in chunks
        if c.choices
        for call in c.choices[0].delta.tool_calls or []
        if call.function
    )
    assert json.loads(arguments) == tool_input


@given(st.lists(st.binary(max_size=80), max_size=6))
def test_any_bytes_yield_chunks_or_a_keel_error(datas: list[bytes]) -> None:
    decoder = CODEC.stream_decoder({"stream_options": {"include_usage": True}}, TARGET)
    try:
        for data in datas:
            for chunk in decoder.feed(SseEvent(data=data)):
                ChatCompletionChunk.model_validate(chunk)
    except KeelError:
        pass
