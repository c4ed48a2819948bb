"""Anthropic Messages answers → OpenAI ``chat.completion`` shapes, and the pieces streams share."""

from __future__ import annotations

from typing import Any

import orjson

from keel.core.errors import UpstreamBadResponse
from keel.providers.anthropic_errors import PREFIX, classify_error_object

Json = dict[str, Any]

_FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    # pause_turn: a server-side tool loop paused; the turn is over as far as this answer goes.
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def bad_response(detail: str) -> UpstreamBadResponse:
    return UpstreamBadResponse(PREFIX + detail)


def load_json_object(payload: bytes, what: str) -> Json:
    """Parse an upstream JSON object; anything else is a bad response, not a crash."""
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise bad_response(f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise bad_response(f"{what} is not a JSON object")
    if value.get("type") == "error":
        # Anthropic can report a failure inside a 2xx answer; it is classified like any other.
        raise classify_error_object(value)
    return value


def chat_id(message_id: str) -> str:
    return "chatcmpl-" + message_id


def finish_reason(stop_reason: Any) -> str:
    return _FINISH_REASONS.get(stop_reason, "stop") if isinstance(stop_reason, str) else "stop"


def openai_usage(*, input_tokens: int, cache_creation: int, cache_read: int, output_tokens: int) -> Json:
    # Anthropic counts cached prompt tokens apart from input_tokens; OpenAI's prompt_tokens is the
    # whole prompt, with the cache hits broken out.
    prompt = input_tokens + cache_creation + cache_read
    return {
        "prompt_tokens": prompt,
        "completion_tokens": output_tokens,
        "total_tokens": prompt + output_tokens,
        "prompt_tokens_details": {"cached_tokens": cache_read},
    }


def usage_from(usage: Any, what: str) -> Json:
    if not isinstance(usage, dict):
        raise bad_response(f"{what} has no usage object")
    return openai_usage(
        input_tokens=int_field(usage, "input_tokens", what),
        cache_creation=optional_int(usage, "cache_creation_input_tokens", what),
        cache_read=optional_int(usage, "cache_read_input_tokens", what),
        output_tokens=int_field(usage, "output_tokens", what),
    )


def decode_message(payload: bytes, *, created: int) -> Json:
    """A ``chat.completion`` for an Anthropic Message body."""
    message = load_json_object(payload, "response body")
    if message.get("type", "message") != "message":
        raise bad_response(f"expected a message, got type {message.get('type')!r}")
    content = message.get("content")
    if not isinstance(content, list):
        raise bad_response("message has no content list")

    texts: list[str] = []
    tool_calls: list[Json] = []
    for block in content:
        if not isinstance(block, dict):
            raise bad_response("content block is not an object")
        kind = block.get("type")
        if kind == "text":
            texts.append(str_field(block, "text", "text block"))
        elif kind == "tool_use":
            tool_calls.append(
                {
                    "id": str_field(block, "id", "tool_use block"),
                    "type": "function",
                    "function": {
                        "name": str_field(block, "name", "tool_use block"),
                        "arguments": orjson.dumps(block.get("input") or {}).decode(),
                    },
                }
            )
        # Thinking and server-side tool blocks have no Chat Completions counterpart.

    reply: Json = {
        "role": "assistant",
        "content": "".join(texts) if texts or not tool_calls else None,
        "refusal": None,
    }
    if tool_calls:
        reply["tool_calls"] = tool_calls
    return {
        "id": chat_id(str_field(message, "id", "message")),
        "object": "chat.completion",
        "created": created,
        "model": str_field(message, "model", "message"),
        "choices": [
            {
                "index": 0,
                "message": reply,
                "finish_reason": finish_reason(message.get("stop_reason")),
                "logprobs": None,
            }
        ],
        "usage": usage_from(message.get("usage"), "message"),
    }


def str_field(obj: Json, key: str, what: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise bad_response(f"{what} has no string {key!r}")
    return value


def int_field(obj: Json, key: str, what: str) -> int:
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise bad_response(f"{what} has no integer {key!r}")
    return value


def optional_int(obj: Json, key: str, what: str) -> int:
    """An optional token count: absent or null means none were used."""
    if obj.get(key) is None:
        return 0
    return int_field(obj, key, what)
