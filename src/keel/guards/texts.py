"""Reading and rewriting the texts of a chat request or answer, whatever shape their content has.

Content is a string or a list of parts (``{"type": "text", "text": ...}`` among images and audio);
guards look at and rewrite only the text. Rewrites copy what they change and share the rest, so the
caller's body is never modified in place.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from typing import Any

Json = dict[str, Any]


def message_texts(body: Json, roles: Collection[str] | None = None) -> Iterator[str]:
    """Every text of the request's messages (of ``roles`` when given), in order."""
    for message in body.get("messages") or ():
        if isinstance(message, dict) and (roles is None or message.get("role") in roles):
            yield from _content_texts(message.get("content"))


def answer_texts(answer: Json) -> Iterator[str]:
    """Every text of an answer's choices (message content, and tool-call arguments)."""
    for choice in answer.get("choices") or ():
        message = choice.get("message") if isinstance(choice, dict) else None
        if isinstance(message, dict):
            yield from _content_texts(message.get("content"))
            for call in message.get("tool_calls") or ():
                function = call.get("function") if isinstance(call, dict) else None
                if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                    yield function["arguments"]


def rewrite_messages(body: Json, change: Callable[[str], str], roles: Collection[str] | None = None) -> Json:
    """A copy of ``body`` with ``change`` applied to every message text (of ``roles``)."""
    messages = []
    for message in body.get("messages") or ():
        if isinstance(message, dict) and (roles is None or message.get("role") in roles):
            message = {**message, "content": _rewrite_content(message.get("content"), change)}
        messages.append(message)
    return {**body, "messages": messages}


def rewrite_answer(answer: Json, change: Callable[[str], str]) -> Json:
    """A copy of ``answer`` with ``change`` applied to every choice's text and tool-call arguments."""
    choices = []
    for choice in answer.get("choices") or ():
        message = choice.get("message") if isinstance(choice, dict) else None
        if isinstance(message, dict):
            message = {**message, "content": _rewrite_content(message.get("content"), change)}
            if message.get("tool_calls"):
                message["tool_calls"] = [_rewrite_call(call, change) for call in message["tool_calls"]]
            choice = {**choice, "message": message}
        choices.append(choice)
    return {**answer, "choices": choices}


def _content_texts(content: Any) -> Iterator[str]:
    if isinstance(content, str):
        yield content
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
                yield part["text"]


def _rewrite_content(content: Any, change: Callable[[str], str]) -> Any:
    if isinstance(content, str):
        return change(content)
    if isinstance(content, list):
        return [
            {**part, "text": change(part["text"])}
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
            else part
            for part in content
        ]
    return content


def _rewrite_call(call: Any, change: Callable[[str], str]) -> Any:
    function = call.get("function") if isinstance(call, dict) else None
    if isinstance(function, dict) and isinstance(function.get("arguments"), str):
        return {**call, "function": {**function, "arguments": change(function["arguments"])}}
    return call
