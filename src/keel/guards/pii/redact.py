"""Replacing findings in text: typed placeholders that can be put back, or a mask that cannot.

Typed placeholders (``<EMAIL_1>``, ``<PHONE_NUMBER_2>``) keep the sentence readable for the model and
tell it what kind of thing was there. Numbering is per entity type, and one value always gets the same
placeholder within a request, so "write to <EMAIL_1> and cc <EMAIL_1>" still says the same person
twice. Pass the previous ``Redaction.mapping`` to carry placeholders across the messages of one request.
A number is skipped if its placeholder already occurs in the text, so restoring never rewrites words
the caller wrote. The mapping from placeholder to original is the only copy of the originals: keep it
in memory for the request and never store or log it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

from keel.guards.pii.entities import PiiSpan

RedactionStyle = Literal["typed", "mask"]
MASK = "****"


def placeholder(entity: str, number: int) -> str:
    """The canonical placeholder text, e.g. ``<EMAIL_1>``."""
    return f"<{entity}_{number}>"


@dataclass(frozen=True, slots=True)
class Redaction:
    """The redacted text, the placeholder → original mapping (empty when masked), and what was replaced."""

    text: str
    mapping: dict[str, str]
    spans: tuple[PiiSpan, ...]


def redact(
    text: str,
    spans: Sequence[PiiSpan],
    *,
    style: RedactionStyle = "typed",
    mapping: Mapping[str, str] | None = None,
) -> Redaction:
    """Replace each span of ``text`` (non-overlapping, as ``PiiDetector.detect`` returns them).

    ``mapping`` is an earlier redaction's mapping in the same request: its placeholders are reused for the
    same values and its numbers are not given out again. The returned mapping includes it.
    """
    if style not in ("typed", "mask"):
        raise ValueError(f"unknown redaction style {style!r}: use 'typed' or 'mask'")
    ordered = sorted(spans, key=lambda span: span.start)
    for previous, current in pairwise(ordered):
        if current.start < previous.end:
            raise ValueError(f"overlapping spans {previous} and {current}: resolve overlaps before redacting")
    merged = dict(mapping or {})
    namer = _PlaceholderNamer(text, merged)
    pieces: list[str] = []
    cursor = 0
    for span in ordered:
        pieces.append(text[cursor : span.start])
        original = text[span.start : span.end]
        pieces.append(MASK if style == "mask" else namer.name(span.entity, original))
        cursor = span.end
    pieces.append(text[cursor:])
    return Redaction("".join(pieces), merged if style == "typed" else {}, tuple(ordered))


class _PlaceholderNamer:
    """Gives each (entity, value) one placeholder, numbering each entity type from 1."""

    def __init__(self, text: str, mapping: dict[str, str]) -> None:
        self._text_upper = text.upper()
        self._mapping = mapping
        self._by_value = {(_entity_of(name), value): name for name, value in mapping.items()}
        self._used = {name.upper() for name in mapping}

    def name(self, entity: str, value: str) -> str:
        known = self._by_value.get((entity, value))
        if known is not None:
            return known
        number = 1
        while self._taken(placeholder(entity, number)):
            number += 1
        name = placeholder(entity, number)
        self._mapping[name] = value
        self._by_value[(entity, value)] = name
        self._used.add(name.upper())
        return name

    def _taken(self, name: str) -> bool:
        upper = name.upper()
        # Also the bare form: restore() accepts "EMAIL_1" without brackets.
        return upper in self._used or upper[1:-1] in self._text_upper


def _entity_of(name: str) -> str:
    return name[1:].rsplit("_", 1)[0]
