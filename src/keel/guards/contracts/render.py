"""Putting the canonical object back into the prompt: as JSON, or through a template.

JSON rendering sorts keys, so the same input sent by different source systems gives the same prompt
(and the same cache key). A template is text with placeholders:

    {path}   the value at path: keys joined by dots, array items by [n] (``{lines[0].sku}``)
    {{  }}   a literal brace

Strings are inserted as they are, anything else as JSON; a path with nothing (or null) at it renders empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from string import Formatter
from typing import Any

import orjson

_PATH = re.compile(r"[^.\[\]{}\s]+(\[\d+\])*(\.[^.\[\]{}\s]+(\[\d+\])*)*")
_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@dataclass(frozen=True, slots=True)
class Placeholder:
    steps: tuple[str | int, ...]

    def value_in(self, document: Any) -> Any:
        node = document
        for step in self.steps:
            if isinstance(step, int):
                node = node[step] if isinstance(node, list) and step < len(node) else None
            else:
                node = node.get(step) if isinstance(node, dict) else None
        return node


@dataclass(frozen=True, slots=True)
class Template:
    pieces: tuple[str | Placeholder, ...]

    def render(self, document: Any) -> str:
        return "".join(piece if isinstance(piece, str) else _text(piece.value_in(document)) for piece in self.pieces)


def parse_template(text: str) -> Template:
    """Parse a template; a ``ValueError`` names the first placeholder (or brace) that is not understood."""
    pieces: list[str | Placeholder] = []
    try:
        parsed = list(Formatter().parse(text))
    except ValueError as error:
        raise ValueError(f"template: {error} (write {{{{ and }}}} for literal braces)") from None
    for literal, name, spec, conversion in parsed:
        if literal:
            pieces.append(literal)
        if name is None:
            continue
        if spec or conversion or not _PATH.fullmatch(name):
            raise ValueError(f"template: {{{name}}} is not a placeholder; write {{path.to.value}} or {{items[0].key}}")
        steps = tuple(int(match[2]) if match[2] else match[1] for match in _PART.finditer(name))
        pieces.append(Placeholder(steps))
    return Template(tuple(pieces))


def render_json(document: Any) -> str:
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS).decode()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
