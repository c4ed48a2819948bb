"""Answers from a route's static safe-mode message, in OpenAI's shapes."""

from __future__ import annotations

import secrets
import time

from keel.core.context import Json

MODEL = "keel-safe-mode"


def message_completion(text: str, stream: bool) -> tuple[Json | None, list[Json] | None]:
    """A chat completion (or the chunks of one) whose content is ``text``."""
    ident = f"chatcmpl-safe{secrets.token_hex(8)}"
    created = int(time.time())
    if not stream:
        return {
            "id": ident,
            "object": "chat.completion",
            "created": created,
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        }, None
    head = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": MODEL}
    chunks = [
        {**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": None}]},
        {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {**head, "choices": [], "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}},
    ]
    return None, chunks
