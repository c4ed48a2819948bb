"""What every recogniser provides, the text facts they share, and the context-word test.

A recogniser turns text into candidate spans of one or more entity types; the detector runs the enabled
ones and settles overlaps. Each regex pass over a long prompt costs tens of microseconds, so the text is
scanned once for runs of digits (``ScannedText.numbers``) and the recognisers of numeric entities (cards,
IBANs, SSNs, IPs, phones, house numbers) look only there, skipping runs with too few digits.
Context words ("SSN", "card", "password") do not find anything by themselves:
they raise the score of a candidate that a pattern found nearby, as a person reading the text would.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from keel.guards.pii.entities import PiiSpan

# Digit groups joined by up to three separators: "4111 1111 1111 1111", "+44 (20) 7946-0958", "10.0.0.1".
_NUMBER_RUN = re.compile(r"[0-9]+(?:[ \t\u00a0.\-/()]{1,3}[0-9]+)*")
_SEPARATOR_BYTES = b" \t.-/()\xc2\xa0"


@dataclass(frozen=True, slots=True)
class NumberRun:
    start: int
    end: int
    digits: int


@dataclass(frozen=True, slots=True)
class ScannedText:
    """The text under inspection and the runs of digits in it, found once for all recognisers."""

    text: str
    numbers: tuple[NumberRun, ...]

    @classmethod
    def of(cls, text: str) -> ScannedText:
        runs = tuple(
            NumberRun(match.start(), match.end(), len(match.group().encode().translate(None, _SEPARATOR_BYTES)))
            for match in _NUMBER_RUN.finditer(text)
        )
        return cls(text, runs)

    def runs_with(self, at_least: int, at_most: int = 1_000) -> Iterator[NumberRun]:
        """The digit runs with at least ``at_least`` and at most ``at_most`` digits."""
        return (run for run in self.numbers if at_least <= run.digits <= at_most)


class Recogniser(Protocol):
    """Finds candidate spans of the entity types it names."""

    @property
    def entities(self) -> frozenset[str]: ...

    def find(self, scanned: ScannedText) -> Iterator[PiiSpan]: ...


class ContextCue:
    """Whether one of ``words`` occurs within ``before`` characters ahead of a span."""

    def __init__(self, words: Iterable[str], *, before: int = 48) -> None:
        alternatives = "|".join(
            sorted((re.escape(word).replace(r"\ ", r"[\s_-]*") for word in words), key=len, reverse=True)
        )
        self._pattern = re.compile(rf"(?<![^\W\d_])(?:{alternatives})(?![^\W\d_])", re.IGNORECASE)
        self._before = before

    def near(self, text: str, start: int) -> bool:
        """Whether a cue word ends within ``before`` characters before ``start``."""
        return self._pattern.search(text, max(0, start - self._before), start) is not None
