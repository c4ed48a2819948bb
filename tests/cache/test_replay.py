"""Either stored form answers either kind of request, and the result is what the OpenAI SDK accepts."""

from __future__ import annotations

from typing import Any

import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from keel.cache import as_body, as_chunks
from tests.cache.answers import completion, streamed_chunks, tool_call_completion


def validated_chunks(chunks: list[dict[str, Any]]) -> list[ChatCompletionChunk]:
    return [ChatCompletionChunk.model_validate(chunk) for chunk in chunks]


@pytest.mark.parametrize("body", [completion(), completion(choices=3), tool_call_completion()])
def test_body_round_trips_through_chunks(body: dict[str, Any]) -> None:
    chunks = as_chunks(body)
    validated_chunks(chunks)
    back = as_body(chunks)
    ChatCompletion.model_validate(back)
    assert back == body


def test_body_as_chunks_reads_like_a_stream() -> None:
    chunks = validated_chunks(as_chunks(completion()))
    assert all(chunk.id == "chatcmpl-abc123" and chunk.system_fingerprint == "fp_0001" for chunk in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].choices[0].delta.content == "Hello there. (0)"
    assert chunks[1].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 17


def test_usage_chunk_is_optional() -> None:
    chunks = as_chunks(completion(), include_usage=False)
    assert all(chunk["choices"] for chunk in chunks)
    assert "usage" not in as_body(chunks)


def test_tool_calls_carry_their_index() -> None:
    chunks = validated_chunks(as_chunks(tool_call_completion()))
    calls = chunks[0].choices[0].delta.tool_calls or []
    assert [(call.index, call.id) for call in calls] == [(0, "call_1"), (1, "call_2")]


def test_stream_folds_into_a_body() -> None:
    body = ChatCompletion.model_validate(as_body(streamed_chunks()))
    choice = body.choices[0]
    assert body.object == "chat.completion" and body.id == "chatcmpl-s1"
    assert choice.message.content == "Let me check."
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert (call.id, call.function.name, call.function.arguments) == ("call_9", "lookup", '{"q":"keel"}')  # type: ignore[union-attr]
    assert body.usage is not None and body.usage.total_tokens == 7


def test_logprobs_are_concatenated() -> None:
    token = {"token": "a", "logprob": -0.1, "bytes": [97], "top_logprobs": []}
    base = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    chunks = [
        {**base, "choices": [{"index": 0, "delta": {"content": "a"}, "logprobs": {"content": [token]}}]},
        {**base, "choices": [{"index": 0, "delta": {"content": "a"}, "logprobs": {"content": [token]}}]},
        {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]},
    ]
    body = as_body(chunks)
    ChatCompletion.model_validate(body)
    assert body["choices"][0]["logprobs"] == {"content": [token, token], "refusal": None}
    assert as_body(as_chunks(body)) == body


def test_replayed_stream_round_trips_through_a_body() -> None:
    body = as_body(streamed_chunks())
    assert as_body(as_chunks(body)) == body


def test_unfinished_stream_is_rejected() -> None:
    with pytest.raises(ValueError, match="never finished"):
        as_body(streamed_chunks()[:3])
    with pytest.raises(ValueError, match="empty"):
        as_body([])
