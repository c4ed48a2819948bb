"""The input-contract step of a chat.completions request: read the input, adapt, validate, render.

The structured input travels either as the text of the last user message (its format is sniffed), or
in the request fields ``keel_input`` (a JSON value, or text) and ``keel_input_type`` (its content
type; when absent, a JSON value is JSON and text is sniffed). Those two fields are Keel's own: they
never reach the upstream.
"""

from __future__ import annotations

from typing import Any

from keel.core.chat_input import text_of
from keel.core.errors import InvalidRequest
from keel.guards.contracts.adapters import Raw, adapt
from keel.guards.contracts.config import InputContract
from keel.guards.contracts.contract import validate_input
from keel.guards.contracts.errors import ContractError, Violation
from keel.guards.contracts.formats import CONTENT_TYPES, sniff
from keel.guards.contracts.render import render_json

KEEL_INPUT = "keel_input"
KEEL_INPUT_TYPE = "keel_input_type"
_UNKNOWN_FORMAT = "cannot tell the input's format: send JSON, XML, CSV with a header row, or form data"


def apply_contract(body: dict[str, Any], contract: InputContract) -> dict[str, Any]:
    """A new request body whose prompt carries the canonical input; ``body`` itself is left unchanged.

    With ``source: keel_input`` the rendered input is appended as a user message; with
    ``source: last_user_message`` it replaces that message's text. ``keel_input`` and
    ``keel_input_type`` are dropped. A ``ContractError`` (400) lists what is wrong with the input.
    """
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise InvalidRequest("'messages' must be an array.", param="messages")
    canonical = canonical_input(body, contract)
    template = contract.compiled_template
    text = template.render(canonical) if template is not None else render_json(canonical)
    new_messages = list(messages)
    if contract.source == "keel_input":
        new_messages.append({"role": "user", "content": text})
    else:
        index = _last_user_index(new_messages)
        new_messages[index] = {**new_messages[index], "content": _replaced(new_messages[index].get("content"), text)}
    new_body = {key: value for key, value in body.items() if key not in (KEEL_INPUT, KEEL_INPUT_TYPE)}
    new_body["messages"] = new_messages
    return new_body


def canonical_input(body: dict[str, Any], contract: InputContract) -> dict[str, Any]:
    """The request's structured input as the validated canonical object (``ContractError`` if it is not)."""
    raw, content_type, param = _read_input(body, contract)
    try:
        canonical = adapt(raw, content_type, contract)
    except ContractError as error:
        error.param = param
        raise
    violations = validate_input(canonical, contract)
    if violations:
        raise ContractError(violations, param=param)
    return canonical


def _read_input(body: dict[str, Any], contract: InputContract) -> tuple[Raw, str, str]:
    """The raw input, its content type, and the request field it came from."""
    if contract.source == "last_user_message":
        if body.get(KEEL_INPUT) is not None:
            raise InvalidRequest(
                f"This route reads its input from the last user message; remove '{KEEL_INPUT}'.", param=KEEL_INPUT
            )
        messages = body["messages"]
        text = text_of(messages[_last_user_index(messages)].get("content"))
        fmt = sniff(text)
        if fmt is None:
            raise ContractError([Violation("$", _UNKNOWN_FORMAT)], param="messages")
        return text, CONTENT_TYPES[fmt], "messages"
    raw = body.get(KEEL_INPUT)
    if raw is None:
        raise InvalidRequest(f"This route expects its input in '{KEEL_INPUT}'.", param=KEEL_INPUT)
    if not isinstance(raw, str | dict | list):
        raise InvalidRequest(f"'{KEEL_INPUT}' must be an object, an array or a string.", param=KEEL_INPUT)
    content_type = body.get(KEEL_INPUT_TYPE)
    if content_type is None:
        fmt = "json" if isinstance(raw, dict | list) else sniff(raw)
        if fmt is None:
            raise ContractError([Violation("$", f"{_UNKNOWN_FORMAT}, or set '{KEEL_INPUT_TYPE}'")], param=KEEL_INPUT)
        content_type = CONTENT_TYPES[fmt]
    elif not isinstance(content_type, str):
        raise InvalidRequest(f"'{KEEL_INPUT_TYPE}' must be a content type string.", param=KEEL_INPUT_TYPE)
    return raw, content_type, KEEL_INPUT


def _last_user_index(messages: list[Any]) -> int:
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if isinstance(message, dict) and message.get("role") == "user":
            return index
    raise ContractError([Violation("$", "the request has no user message to read the input from")], param="messages")


def _replaced(content: Any, text: str) -> str | list[Any]:
    """The message content with its text replaced by ``text``; other parts (images, audio) are kept."""
    if not isinstance(content, list):
        return text
    parts: list[Any] = []
    placed = False
    for part in content:
        if not (isinstance(part, dict) and part.get("type") == "text"):
            parts.append(part)
        elif not placed:
            parts.append({"type": "text", "text": text})
            placed = True
    return parts
