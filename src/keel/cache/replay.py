"""Converting between a ``chat.completion`` body and the ``chat.completion.chunk`` stream that carries it.

A cached body is replayed to a streaming client as one content chunk and one finishing chunk per
choice (plus a usage chunk), and a cached stream is folded back into a body for a non-streaming client
the way the OpenAI SDK accumulates deltas: text pieces are concatenated, tool calls merged by index.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# Top-level fields a body and its chunks share, copied across as they are.
_SHARED_OPTIONAL = ("system_fingerprint", "service_tier")


def as_chunks(body: Mapping[str, Any], *, include_usage: bool = True) -> list[dict[str, Any]]:
    """The chunks a streaming client would have received for ``body``.

    ``include_usage`` adds the final usage-only chunk that clients asking for
    ``stream_options.include_usage`` expect; others do not expect a chunk without choices.
    """
    source: dict[str, Any] = copy.deepcopy(dict(body))
    base: dict[str, Any] = {
        "id": source.get("id"),
        "object": "chat.completion.chunk",
        "created": source.get("created"),
        "model": source.get("model"),
    }
    for name in _SHARED_OPTIONAL:
        if source.get(name) is not None:
            base[name] = source[name]
    chunks: list[dict[str, Any]] = []
    for choice in source.get("choices") or []:
        index = choice.get("index", 0)
        message = choice.get("message") or {}
        delta: dict[str, Any] = {"role": message.get("role") or "assistant"}
        for name in ("content", "refusal"):
            if message.get(name) is not None:
                delta[name] = message[name]
        if message.get("tool_calls"):
            delta["tool_calls"] = [{"index": i, **call} for i, call in enumerate(message["tool_calls"])]
        first: dict[str, Any] = {"index": index, "delta": delta, "finish_reason": None}
        if choice.get("logprobs") is not None:
            first["logprobs"] = choice["logprobs"]
        last = {"index": index, "delta": {}, "finish_reason": choice.get("finish_reason")}
        chunks.append({**base, "choices": [first]})
        chunks.append({**base, "choices": [last]})
    if include_usage and source.get("usage") is not None:
        chunks.append({**base, "choices": [], "usage": source["usage"]})
    return chunks


def as_body(chunks: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The ``chat.completion`` body carried by a complete stream.

    Raises ValueError for an empty stream or one where a choice never finished: a truncated stream is
    not an answer, and should not have been cached.
    """
    if not chunks:
        raise ValueError("an empty stream carries no answer")
    head = chunks[0]
    body: dict[str, Any] = {
        "id": head.get("id"),
        "object": "chat.completion",
        "created": head.get("created"),
        "model": head.get("model"),
    }
    choices: dict[int, _ChoiceState] = {}
    usage: Any = None
    for chunk in chunks:
        for name in _SHARED_OPTIONAL:
            if chunk.get(name) is not None:
                body[name] = chunk[name]
        if chunk.get("usage") is not None:
            usage = chunk["usage"]
        for piece in chunk.get("choices") or []:
            choices.setdefault(piece.get("index", 0), _ChoiceState()).add(piece)
    body["choices"] = [choices[index].finish(index) for index in sorted(choices)]
    if usage is not None:
        body["usage"] = copy.deepcopy(usage)
    return body


@dataclass
class _ChoiceState:
    """One choice's deltas folded together."""

    role: str | None = None
    content: list[str] | None = None
    refusal: list[str] | None = None
    tool_calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    logprobs: dict[str, list[Any] | None] | None = None
    finish_reason: str | None = None

    def add(self, piece: Mapping[str, Any]) -> None:
        delta = piece.get("delta") or {}
        self.role = self.role or delta.get("role")
        if isinstance(delta.get("content"), str):
            self.content = self.content if self.content is not None else []
            self.content.append(delta["content"])
        if isinstance(delta.get("refusal"), str):
            self.refusal = self.refusal if self.refusal is not None else []
            self.refusal.append(delta["refusal"])
        for call in delta.get("tool_calls") or []:
            self._add_tool_call(call)
        if piece.get("logprobs") is not None:
            self._add_logprobs(piece["logprobs"])
        if piece.get("finish_reason") is not None:
            self.finish_reason = piece["finish_reason"]

    def _add_tool_call(self, call: Mapping[str, Any]) -> None:
        slot = self.tool_calls.setdefault(
            call.get("index", 0), {"id": None, "type": "function", "function": {"name": "", "arguments": ""}}
        )
        if call.get("id"):
            slot["id"] = call["id"]
        if call.get("type"):
            slot["type"] = call["type"]
        function = call.get("function") or {}
        slot["function"]["name"] += function.get("name") or ""
        slot["function"]["arguments"] += function.get("arguments") or ""

    def _add_logprobs(self, logprobs: Mapping[str, Any]) -> None:
        merged: dict[str, list[Any] | None] = self.logprobs if self.logprobs is not None else {}
        for name in ("content", "refusal"):
            part = logprobs.get(name)
            if part is not None:
                existing = merged.get(name)
                if existing is None:
                    existing = merged[name] = []
                existing.extend(copy.deepcopy(list(part)))
        self.logprobs = merged

    def _final_logprobs(self) -> dict[str, list[Any] | None] | None:
        if self.logprobs is None:
            return None
        return {"content": self.logprobs.get("content"), "refusal": self.logprobs.get("refusal")}

    def finish(self, index: int) -> dict[str, Any]:
        if self.finish_reason is None:
            raise ValueError(f"choice {index} of the stream never finished")
        message: dict[str, Any] = {
            "role": self.role or "assistant",
            "content": None if self.content is None else "".join(self.content),
            "refusal": None if self.refusal is None else "".join(self.refusal),
        }
        if self.tool_calls:
            message["tool_calls"] = [self.tool_calls[i] for i in sorted(self.tool_calls)]
        return {
            "index": index,
            "message": message,
            "finish_reason": self.finish_reason,
            "logprobs": self._final_logprobs(),
        }
