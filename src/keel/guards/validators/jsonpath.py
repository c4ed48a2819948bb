"""A small, safe subset of JSONPath: enough to point at values in a model's JSON answer.

Supported: ``$`` (the document), ``.name`` (a key of letters, digits, ``_`` and ``-``, not starting
with a digit or ``-``), ``['any key']`` / ``["any key"]``, ``[n]`` (an array index; negative counts
from the end), ``[*]`` and ``.*`` (every element of an array or every value of an object). There is
deliberately no recursive descent, filter, slice or script expression: a path is parsed once, at
config time, and evaluating it is a plain walk with no code run and no cost beyond the document's size.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

_STEP = re.compile(
    r"""\.(?P<name>[A-Za-z_][A-Za-z0-9_-]*)
      | (?P<wild>\.\*|\[\*\])
      | \[(?P<index>-?\d+)\]
      | \['(?P<single>[^']*)'\]
      | \["(?P<double>[^"]*)"\]""",
    re.VERBOSE,
)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


@dataclass(frozen=True, slots=True)
class _Wildcard:
    pass


WILDCARD = _Wildcard()
Step = str | int | _Wildcard


@dataclass(frozen=True, slots=True)
class JsonPath:
    """A parsed path; ``find`` returns every value it selects, in document order."""

    expression: str
    steps: tuple[Step, ...]

    def find(self, document: Any) -> list[Any]:
        current: list[Any] = [document]
        for step in self.steps:
            current = [value for node in current for value in _apply(step, node)]
        return current


def parse_json_path(expression: str) -> JsonPath:
    """Parse ``expression``; a ``ValueError`` names the first character that is not understood."""
    if not expression.startswith("$"):
        raise ValueError(f"a JSON path starts with '$' (got {expression!r})")
    steps: list[Step] = []
    position = 1
    while position < len(expression):
        match = _STEP.match(expression, position)
        if match is None:
            raise ValueError(
                f"JSON path {expression!r}: cannot read from character {position + 1} "
                f"({expression[position : position + 10]!r}); supported: .key, ['key'], [n], [*], .*"
            )
        steps.append(_step(match))
        position = match.end()
    return JsonPath(expression, tuple(steps))


def format_location(location: Sequence[str | int]) -> str:
    """A location inside a document (keys and indices) written as a JSON path: ``$.items[0].id``."""
    parts = ["$"]
    for key in location:
        if isinstance(key, int):
            parts.append(f"[{key}]")
        elif _IDENTIFIER.fullmatch(key):
            parts.append(f".{key}")
        else:
            parts.append("[" + repr(key) + "]")
    return "".join(parts)


def _step(match: re.Match[str]) -> Step:
    if match["name"] is not None:
        return match["name"]
    if match["wild"] is not None:
        return WILDCARD
    if match["index"] is not None:
        return int(match["index"])
    return match["single"] if match["single"] is not None else match["double"]


def _apply(step: Step, node: Any) -> Iterator[Any]:
    if isinstance(step, _Wildcard):
        if isinstance(node, list):
            yield from node
        elif isinstance(node, dict):
            yield from node.values()
    elif isinstance(step, int):
        if isinstance(node, list) and -len(node) <= step < len(node):
            yield node[step]
    elif isinstance(node, dict) and step in node:
        yield node[step]
