"""What evaluating one source expression gives, before it is written into the canonical object.

A source expression of depth 0 gives one value. Each ``[*]`` adds a level of lists, one entry per
repeated element, row or array item, so that entry ``i`` lands in item ``i`` of the canonical array.
Any entry may instead be ``MISSING`` (nothing there: the canonical key is left out) or an ``Invalid``
(the input is there but cannot be read as mapped; it becomes a violation at the entry's path).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeAlias


class Missing(Enum):
    MISSING = "missing"


MISSING = Missing.MISSING


@dataclass(frozen=True, slots=True)
class Invalid:
    problem: str


Evaluated: TypeAlias = Any
"""A JSON value, ``MISSING``, an ``Invalid``, or (per ``[*]``) a list of these."""


def text_value(text: str | None) -> str | Missing:
    """A value read from XML, CSV or a form: trimmed, and ``MISSING`` when empty."""
    if text is None:
        return MISSING
    trimmed = text.strip()
    return trimmed if trimmed else MISSING
