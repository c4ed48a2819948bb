"""What a simulated model says: reply text, tool calls, JSON that fits a schema, embedding vectors.

Pure functions of the request, so the same request always gets the same words. Tokens are counted as
whitespace-separated words: an approximation of a real tokenizer, deterministic and cheap.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import struct
import sys
from array import array
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson

from keel.core.errors import InvalidRequest

Json = dict[str, Any]

_FRAGMENT = re.compile(r"\s*\S+")
# Benchmarks repeat the same prompts, so replies to short prompts are remembered (bounded).
_DERIVED: dict[tuple[str, int], tuple[tuple[str, ...], str]] = {}
_DERIVED_MAX_ENTRIES = 4096
_DERIVED_MAX_PROMPT = 2048
_FILLER = ("simulated", "reply", "from", "the", "keel", "simulator")
_SCALAR_SAMPLES: dict[str, object] = {"string": "sim", "integer": 0, "number": 0, "boolean": False}


@dataclass(slots=True)
class Reply:
    content: str | None
    pieces: tuple[str, ...]
    """Stream deltas in order: content fragments, or the tool call's argument text."""
    tool_name: str | None
    finish_reason: str
    tokens: int


def unit_vector(key: bytes, dimensions: int) -> list[float]:
    """A deterministic unit vector: the same input always embeds to the same point."""
    raw = _int16s(dimensions).unpack(hashlib.shake_256(key).digest(2 * dimensions))
    norm = math.sqrt(sum(v * v for v in raw))
    if norm == 0.0:
        return [1.0] + [0.0] * (dimensions - 1)
    return [v / norm for v in raw]


@lru_cache(maxsize=64)
def _int16s(count: int) -> struct.Struct:
    return struct.Struct(f"<{count}h")  # explicit byte order: vectors are equal on every platform


def base64_floats(vector: list[float]) -> str:
    packed = array("f", vector)
    if sys.byteorder == "big":
        packed.byteswap()  # the wire format is little-endian float32
    return base64.b64encode(packed.tobytes()).decode("ascii")


def pieces(words: list[str]) -> tuple[str, ...]:
    """Stream fragments whose concatenation is the words joined by single spaces."""
    if not words:
        return ()
    return (words[0], *(" " + word for word in words[1:]))


def fragments_of(text: str) -> tuple[str, ...]:
    """A fixed text as word-sized stream fragments that concatenate back to it exactly."""
    found = _FRAGMENT.findall(text)
    if found:
        found[-1] += text[len(text.rstrip()) :]  # keep trailing whitespace too
    return tuple(found)


def build_reply(body: Json, fixed: tuple[str, ...] | None, length: int, last_user: str) -> Reply:
    """A tool call when tools are offered, JSON when asked for, else text (cut at max_tokens)."""
    tools = body.get("tools")
    if tools and body.get("tool_choice") != "none":
        name, parameters = _pick_tool(tools, body.get("tool_choice"))
        arguments = orjson.dumps(_sample(parameters, required_only=True, depth=0)).decode()
        return Reply(None, (arguments,), name, "tool_calls", len(arguments.split()))
    response_format = body.get("response_format")
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "json_schema" or kind == "json_object":
        assert isinstance(response_format, dict)
        if kind == "json_schema":
            spec = response_format.get("json_schema")
            value = _sample(spec.get("schema") if isinstance(spec, dict) else None, required_only=False, depth=0)
        else:
            value = {"reply": _derived(fixed, length, last_user)[1]}
        text = orjson.dumps(value).decode()
        return Reply(text, (text,), None, "stop", len(text.split()))
    fragments, text = _derived(fixed, length, last_user)
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    if type(limit) is int and 0 < limit < len(fragments):
        fragments = fragments[:limit]
        return Reply("".join(fragments), fragments, None, "length", limit)
    return Reply(text, fragments, None, "stop", len(fragments))


def _derived(fixed: tuple[str, ...] | None, length: int, last_user: str) -> tuple[tuple[str, ...], str]:
    """The fixed reply, else the last user message's words repeated or cut to ``length`` words."""
    if fixed is not None:
        return fixed, "".join(fixed)
    key = (last_user, length)
    found = _DERIVED.get(key)
    if found is None:
        words = last_user.split() or list(_FILLER)
        repeated = words * (length // len(words) + 1) if len(words) < length else words
        fragments = pieces(repeated[:length])
        found = (fragments, "".join(fragments))
        if len(last_user) <= _DERIVED_MAX_PROMPT:
            if len(_DERIVED) >= _DERIVED_MAX_ENTRIES:
                _DERIVED.clear()
            _DERIVED[key] = found
    return found


def _pick_tool(tools: object, choice: object) -> tuple[str, object]:
    if not isinstance(tools, list):
        raise InvalidRequest("'tools' must be an array.", param="tools")
    wanted = None
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        wanted = choice["function"].get("name")
    first: tuple[str, object] | None = None
    for tool in tools:
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise InvalidRequest("Each tool must have a 'function' with a 'name'.", param="tools")
        found = (function["name"], function.get("parameters"))
        if wanted is None or found[0] == wanted:
            return found
        first = first or found
    assert first is not None  # the list is non-empty, so the loop saw a tool
    return first


def _sample(schema: object, *, required_only: bool, depth: int) -> object:
    """A small value that satisfies common JSON schemas (types, enums, const, nested objects)."""
    if not isinstance(schema, dict) or depth > 8:
        return {} if depth == 0 else None
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            return _sample(options[0], required_only=required_only, depth=depth)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or (kind is None and "properties" in schema):
        properties = schema.get("properties")
        properties = properties if isinstance(properties, dict) else {}
        required = schema.get("required")
        names = required if required_only and isinstance(required, list) else list(properties)
        return {
            name: _sample(properties.get(name), required_only=required_only, depth=depth + 1)
            for name in names
            if isinstance(name, str)
        }
    if kind == "array":
        return []
    if isinstance(kind, str) and kind in _SCALAR_SAMPLES:
        return _SCALAR_SAMPLES[kind]
    return {} if depth == 0 else None


def embedding_inputs(value: object) -> tuple[tuple[bytes, ...], int, int]:
    """Hash keys, total tokens and the longest input's tokens. Strings and token arrays never collide."""
    items: list[object]
    if isinstance(value, str):
        items = [value]
    elif isinstance(value, list) and value:
        items = [value] if all(type(v) is int for v in value) else value
    else:
        raise InvalidRequest("'input' must be a string, an array of strings or token arrays.", param="input")
    keys: list[bytes] = []
    total = longest = 0
    for item in items:
        if isinstance(item, str):
            keys.append(b"s" + item.encode())
            count = len(item.split())
        elif isinstance(item, list) and item and all(type(v) is int for v in item):
            keys.append(b"t" + orjson.dumps(item))
            count = len(item)
        else:
            raise InvalidRequest("Each input must be a string or a non-empty token array.", param="input")
        total += count
        longest = max(longest, count)
    return tuple(keys), total, longest
