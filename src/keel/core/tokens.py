"""A quick prompt-size estimate for decisions made before the call (context window, capacity).

About four characters per token for English text is the usual rule of thumb; it errs on the side
of more tokens for code and other languages only mildly. Exact counts come from the upstream's usage.
"""

from __future__ import annotations

from typing import Any

PER_MESSAGE = 4


def estimate_prompt_tokens(body: dict[str, Any]) -> int:
    chars = 0
    messages = body.get("messages") or ()
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    chars += len(part["text"])
    tools = body.get("tools")
    if tools:
        chars += len(str(tools))
    return chars // 4 + PER_MESSAGE * len(messages)


def estimate_total_tokens(body: dict[str, Any]) -> int:
    """Prompt plus the most the answer may take (when the request says), for capacity accounting."""
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    return estimate_prompt_tokens(body) + (limit if isinstance(limit, int) else 256)
