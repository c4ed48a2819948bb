"""What the built-in upstreams (the simulator, the FAQ) read from a chat request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from keel.core.errors import InvalidRequest

MAX_N = 128


@dataclass(frozen=True, slots=True)
class ChatInput:
    n: int
    prompt_words: int  # whitespace-separated words of every message: a stand-in for tokens
    last_user: str


def read_chat_input(body: dict[str, Any]) -> ChatInput:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' must be a non-empty array.", param="messages")
    n = body.get("n")
    if n is None:
        n = 1
    elif type(n) is not int or not 1 <= n <= MAX_N:
        raise InvalidRequest(f"'n' must be an integer from 1 to {MAX_N}.", param="n")
    words = 0
    last_user = ""
    for message in messages:
        if not isinstance(message, dict):
            raise InvalidRequest("Each message must be an object.", param="messages")
        text = text_of(message.get("content"))
        words += len(text.split())
        if message.get("role") == "user":
            last_user = text
    return ChatInput(n, words, last_user)


def text_of(content: object) -> str:
    """The text of a message's content: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            part["text"] for part in content if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""
