"""Dotted paths: where a value goes in the canonical object, and where it comes from in JSON input.

    path  := step ("." step)*
    step  := NAME | NAME "[*]"
    NAME  := one or more characters other than  . [ ] { }  and white space

``lines[*].sku`` names the key ``sku`` of every item of the array ``lines``. The number of ``[*]`` in a
path is its depth: how many levels of arrays a mapped value is spread over.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_STEP = re.compile(r"(?P<name>[^.\[\]{}\s]+)(?P<each>\[\*\])?")


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    each: bool
    """The value at ``name`` is an array and the rest of the path applies to each of its items."""


@dataclass(frozen=True, slots=True)
class DottedPath:
    text: str
    steps: tuple[Step, ...]

    @property
    def depth(self) -> int:
        return sum(step.each for step in self.steps)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(step.name for step in self.steps)

    def __str__(self) -> str:
        return self.text


def parse_dotted(text: str) -> DottedPath:
    """Parse a dotted path; a ``ValueError`` says which part is not understood."""
    steps: list[Step] = []
    for part in text.split("."):
        match = _STEP.fullmatch(part)
        if match is None:
            raise ValueError(f"{text!r} is not a dotted path: {part!r} should be a name, optionally followed by [*]")
        steps.append(Step(match["name"], match["each"] is not None))
    return DottedPath(text, tuple(steps))


def conflict(a: DottedPath, b: DottedPath) -> str | None:
    """Why two target paths cannot both be written (one inside the other, or an array and an object)."""
    for step_a, step_b in zip(a.steps, b.steps, strict=False):
        if step_a.name != step_b.name:
            return None
        if step_a.each != step_b.each:
            return f"{a} and {b} disagree on whether {step_a.name!r} is an array"
    if len(a.steps) == len(b.steps):
        return f"{a} and {b} name the same place"
    inner, outer = (a, b) if len(a.steps) > len(b.steps) else (b, a)
    return f"{inner} lies inside {outer}, which is mapped as a whole"
