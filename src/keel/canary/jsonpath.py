"""The small JSONPath subset canary assertions use to point at one value in a JSON answer.

Supported: ``$`` followed by ``.name``, ``['name']`` / ``["name"]`` and ``[index]`` (negative counts
from the end), e.g. ``$.order.items[0].price``. Filters, wildcards and recursive descent are not: a
canary checks one known field, and a path that could match several values would make that ambiguous.
"""

from __future__ import annotations

import re
from typing import Any

Step = str | int

_STEP = re.compile(r"""\.([A-Za-z_][A-Za-z0-9_-]*)|\[(-?\d+)\]|\['([^']*)'\]|\["([^"]*)"\]""")


class JsonPathError(ValueError):
    """A path outside the supported subset."""


class Missing(LookupError):
    """The path does not lead to a value in this document."""


def parse_path(path: str) -> tuple[Step, ...]:
    if not path.startswith("$"):
        raise JsonPathError(f"JSON path {path!r} must start with '$'")
    steps: list[Step] = []
    position = 1
    while position < len(path):
        match = _STEP.match(path, position)
        if match is None:
            raise JsonPathError(f"JSON path {path!r}: cannot read {path[position:]!r} (use .name, ['name'] or [0])")
        name, index, single, double = match.groups()
        if index is not None:
            steps.append(int(index))
        else:
            steps.append(next(s for s in (name, single, double) if s is not None))
        position = match.end()
    return tuple(steps)


def resolve(document: Any, steps: tuple[Step, ...]) -> Any:
    """The value at ``steps``; raises ``Missing`` naming the first step that does not exist."""
    value = document
    walked = "$"
    for step in steps:
        if isinstance(step, int):
            if not isinstance(value, list) or not -len(value) <= step < len(value):
                raise Missing(f"{walked} has no item [{step}]")
            value = value[step]
            walked += f"[{step}]"
        else:
            if not isinstance(value, dict) or step not in value:
                raise Missing(f"{walked} has no key {step!r}")
            value = value[step]
            walked += f".{step}"
    return value
