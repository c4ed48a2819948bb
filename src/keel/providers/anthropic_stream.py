"""Anthropic Messages SSE stream → OpenAI ``chat.completion.chunk`` objects.

Anthropic streams typed events: ``message_start``, then per content block ``content_block_start``,
``content_block_delta``\\* and ``content_block_stop``, then ``message_delta`` (stop reason, output
usage) and ``message_stop``; ``ping`` may appear anywhere and ``error`` ends a failed stream.
"""

from __future__ import annotations

from typing import Any

from keel.providers.anthropic_response import (
    Json,
    bad_response,
    chat_id,
    finish_reason,
    int_field,
    load_json_object,
    openai_usage,
    optional_int,
    str_field,
)
from keel.providers.base import SseEvent


class AnthropicStreamDecoder:
    def __init__(self, *, include_usage: bool, created: int) -> None:
        self._include_usage = include_usage
        self._created = created
        self._id: str | None = None
        self._model = ""
        # Anthropic numbers all content blocks; OpenAI numbers tool calls only.
        self._tool_index: dict[int, int] = {}
        self._input_tokens = 0
        self._cache_creation = 0
        self._cache_read = 0
        self._output_tokens = 0
        self._done = False

    @property
    def done(self) -> bool:
        return self._done

    def feed(self, event: SseEvent) -> list[Json]:
        if not event.data.strip():
            return []
        data = load_json_object(event.data, "stream event")  # raises for an ``error`` event
        kind = data.get("type") or event.event
        if kind == "ping" or self._done:
            return []
        if kind == "message_start":
            return self._message_start(data)
        if self._id is None:
            raise bad_response(f"stream event {kind!r} before message_start")
        if kind == "content_block_start":
            return self._block_start(data)
        if kind == "content_block_delta":
            return self._block_delta(data)
        if kind == "message_delta":
            return self._message_delta(data)
        if kind == "message_stop":
            self._done = True
            return [self._usage_chunk()] if self._include_usage else []
        # content_block_stop carries nothing to forward; unknown event types are new protocol
        # additions, which Anthropic asks clients to tolerate.
        return []

    def _message_start(self, data: Json) -> list[Json]:
        message = _object(data, "message", "message_start")
        self._id = chat_id(str_field(message, "id", "message_start"))
        self._model = str_field(message, "model", "message_start")
        usage = message.get("usage")
        if isinstance(usage, dict):
            self._take_usage(usage, "message_start")
        return [self._chunk({"role": "assistant", "content": ""})]

    def _block_start(self, data: Json) -> list[Json]:
        index = int_field(data, "index", "content_block_start")
        block = _object(data, "content_block", "content_block_start")
        kind = block.get("type")
        if kind == "text":
            text = block.get("text")
            return [self._chunk({"content": text})] if isinstance(text, str) and text else []
        if kind == "tool_use":
            position = len(self._tool_index)
            self._tool_index[index] = position
            call = {
                "index": position,
                "id": str_field(block, "id", "tool_use block"),
                "type": "function",
                "function": {"name": str_field(block, "name", "tool_use block"), "arguments": ""},
            }
            return [self._chunk({"tool_calls": [call]})]
        # Thinking and server-side tool blocks have no Chat Completions counterpart.
        return []

    def _block_delta(self, data: Json) -> list[Json]:
        index = int_field(data, "index", "content_block_delta")
        delta = _object(data, "delta", "content_block_delta")
        kind = delta.get("type")
        if kind == "text_delta":
            text = str_field(delta, "text", "text_delta")
            return [self._chunk({"content": text})] if text else []
        if kind == "input_json_delta" and index in self._tool_index:
            partial = str_field(delta, "partial_json", "input_json_delta")
            if not partial:
                return []
            call = {"index": self._tool_index[index], "function": {"arguments": partial}}
            return [self._chunk({"tool_calls": [call]})]
        return []

    def _message_delta(self, data: Json) -> list[Json]:
        delta = _object(data, "delta", "message_delta")
        usage = data.get("usage")
        if isinstance(usage, dict):
            self._take_usage(usage, "message_delta")
        return [self._chunk({}, finish_reason(delta.get("stop_reason")))]

    def _take_usage(self, usage: Json, what: str) -> None:
        # message_delta counts are cumulative and may repeat or revise the message_start ones; a
        # missing or null count leaves what is known unchanged.
        if usage.get("input_tokens") is not None:
            self._input_tokens = int_field(usage, "input_tokens", what)
        if usage.get("cache_creation_input_tokens") is not None:
            self._cache_creation = optional_int(usage, "cache_creation_input_tokens", what)
        if usage.get("cache_read_input_tokens") is not None:
            self._cache_read = optional_int(usage, "cache_read_input_tokens", what)
        if usage.get("output_tokens") is not None:
            self._output_tokens = int_field(usage, "output_tokens", what)

    def _chunk(self, delta: Json, reason: str | None = None) -> Json:
        chunk = self._envelope()
        chunk["choices"] = [{"index": 0, "delta": delta, "finish_reason": reason, "logprobs": None}]
        if self._include_usage:
            # OpenAI marks every chunk but the last with a null usage when usage was asked for.
            chunk["usage"] = None
        return chunk

    def _usage_chunk(self) -> Json:
        chunk = self._envelope()
        chunk["choices"] = []
        chunk["usage"] = openai_usage(
            input_tokens=self._input_tokens,
            cache_creation=self._cache_creation,
            cache_read=self._cache_read,
            output_tokens=self._output_tokens,
        )
        return chunk

    def _envelope(self) -> Json:
        return {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
        }


def _object(data: Json, key: str, what: str) -> Json:
    value: Any = data.get(key)
    if not isinstance(value, dict):
        raise bad_response(f"{what} has no {key!r} object")
    return value
