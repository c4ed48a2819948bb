"""Sample answers in the shapes OpenAI sends them, shared by the cache tests."""

from __future__ import annotations

from typing import Any


def completion(content: str = "Hello there.", *, choices: int = 1) -> dict[str, Any]:
    return {
        "id": "chatcmpl-abc123",
        "object": "chat.completion",
        "created": 1_795_608_000,
        "model": "gpt-4o-mini-2024-07-18",
        "system_fingerprint": "fp_0001",
        "choices": [
            {
                "index": i,
                "message": {"role": "assistant", "content": f"{content} ({i})", "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
            for i in range(choices)
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
    }


def tool_call_completion() -> dict[str, Any]:
    body = completion()
    body["choices"][0]["message"] = {
        "role": "assistant",
        "content": None,
        "refusal": None,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}},
            {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": '{"tz":"CET"}'}},
        ],
    }
    body["choices"][0]["finish_reason"] = "tool_calls"
    return body


def streamed_chunks() -> list[dict[str, Any]]:
    """A stream as an upstream sends it: text and tool-call arguments in several pieces, usage last."""
    base = {"id": "chatcmpl-s1", "object": "chat.completion.chunk", "created": 1_795_608_001, "model": "gpt-4o"}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}

    return [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Let me "}),
        chunk({"content": "check."}),
        chunk({"tool_calls": [{"index": 0, "id": "call_9", "type": "function", "function": {"name": "lookup"}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"q":'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"keel"}'}}]}),
        chunk({}, "tool_calls"),
        {**base, "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}},
    ]
