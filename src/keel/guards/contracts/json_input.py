"""JSON input: parsing with the error's position, and reading dotted paths (``data.items[*].sku``).

A key that is absent or ``null`` reads as missing. ``[*]`` needs an array at that step and reads the
rest of the path in each item. Values are taken as they are: objects and arrays are copied whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from keel.guards.contracts.errors import ContractError, Violation
from keel.guards.contracts.paths import DottedPath, Step, parse_dotted
from keel.guards.contracts.values import MISSING, Evaluated, Invalid


def parse_json(raw: str | bytes) -> Any:
    """The parsed document; malformed JSON is a ``ContractError`` at ``$`` with line and column."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        where = f" at line {error.lineno}, column {error.colno}" if error.lineno else ""
        raise ContractError([Violation("$", f"malformed JSON{where}: {error.msg}")]) from None


@dataclass(frozen=True, slots=True)
class JsonSource:
    path: DottedPath

    @property
    def depth(self) -> int:
        return self.path.depth

    def read(self, document: Any, depth: int) -> Evaluated:
        return _walk(document, self.path.steps, 0, self.path)

    def __str__(self) -> str:
        return self.path.text


def parse_json_source(text: str) -> JsonSource:
    """Parse a dotted source path such as ``data.items[*].sku``."""
    return JsonSource(parse_dotted(text))


def has_field(document: Any, path: DottedPath) -> bool:
    """Whether ``path`` (without ``[*]``) leads to a value other than ``null``."""
    node = document
    for step in path.steps:
        if not isinstance(node, dict) or node.get(step.name) is None:
            return False
        node = node[step.name]
    return True


def _walk(node: Any, steps: tuple[Step, ...], index: int, path: DottedPath) -> Evaluated:
    if node is None:
        return MISSING
    if index == len(steps):
        return node
    if not isinstance(node, dict):
        return Invalid(f"{_where(steps, index)} is not an object (reading {path})")
    step = steps[index]
    child = node.get(step.name)
    if child is None:
        return MISSING
    if not step.each:
        return _walk(child, steps, index + 1, path)
    if not isinstance(child, list):
        return Invalid(f"{_where(steps, index + 1)} is not an array (reading {path})")
    return [_walk(item, steps, index + 1, path) for item in child]


def _where(steps: tuple[Step, ...], count: int) -> str:
    if count == 0:
        return "the input"
    return ".".join(step.name for step in steps[:count])
