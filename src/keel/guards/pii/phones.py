"""Telephone numbers, found and validated by the ``phonenumbers`` library (Google's libphonenumber data).

``PhoneNumberMatcher`` is thorough but slow, so it never sees the whole text: a cheap pattern first
finds runs of 7 to 15 digits, and only a window around each run (widened to whole words, so an extension
such as ``x204`` stays in) is handed to the matcher, region by region until every run in the window is
accounted for. Numbers in international form (``+41 …``) are valid from any region; national forms only
for the listed regions.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import phonenumbers

from keel.guards.pii.base import ContextCue, NumberRun, ScannedText
from keel.guards.pii.entities import PHONE_NUMBER, PiiSpan

_MIN_DIGITS = 7
_MAX_DIGITS = 15
_MARGIN = 12
_POSSIBLE_SCORE = 0.5
_CUE = ContextCue(
    ("phone", "tel", "telephone", "call", "mobile", "cell", "fax", "desk", "office", "contact", "whatsapp", "sms"),
    before=40,
)


class PhoneRecogniser:
    entities = frozenset({PHONE_NUMBER})

    def __init__(self, regions: Sequence[str]) -> None:
        unknown = [region for region in regions if region not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise ValueError(f"unknown phone regions {unknown}: use ISO 3166 two-letter codes such as 'US'")
        self._regions = tuple(regions)

    def find(self, scanned: ScannedText) -> Iterator[PiiSpan]:
        text = scanned.text
        for window_start, window_end, runs in _windows(text, scanned.runs_with(_MIN_DIGITS, _MAX_DIGITS)):
            window = _Window(text, window_start, window_end)
            found: dict[tuple[int, int], float] = {}
            for region in self._regions:
                _match(window, region, phonenumbers.Leniency.VALID, found)
                if _all_covered(runs, found):
                    break
            else:
                # After "Phone:" or "call me on", a number of a plausible length is taken even if no listed
                # region's numbering plan knows it (a foreign national number).
                if any(_CUE.near(text, run_start) for run_start, _ in runs):
                    _match(window, self._regions[0], phonenumbers.Leniency.POSSIBLE, found)
            for (start, end), score in found.items():
                yield PiiSpan(PHONE_NUMBER, start, end, score)


@dataclass(frozen=True, slots=True)
class _Window:
    text: str
    start: int
    end: int


def _match(window: _Window, region: str, leniency: int, found: dict[tuple[int, int], float]) -> None:
    """Add the matcher's numbers in ``window`` that overlap nothing found yet, with their scores."""
    for match in phonenumbers.PhoneNumberMatcher(window.text[window.start : window.end], region, leniency=leniency):
        span = (window.start + match.start, window.start + match.end)
        if any(s < span[1] and span[0] < e for s, e in found):
            continue
        # A merely possible number is only tried with a cue nearby, which adds its 0.1 below.
        score = _POSSIBLE_SCORE
        if leniency == phonenumbers.Leniency.VALID:
            score = 0.85 if match.raw_string.startswith("+") else 0.7
        if _CUE.near(window.text, span[0]):
            score = round(min(1.0, score + 0.1), 2)
        found[span] = score


def _all_covered(runs: list[tuple[int, int]], found: dict[tuple[int, int], float]) -> bool:
    return all(any(s < run_end and run_start < e for s, e in found) for run_start, run_end in runs)


def _windows(text: str, candidates: Iterable[NumberRun]) -> Iterator[tuple[int, int, list[tuple[int, int]]]]:
    """Merged stretches of text around digit runs that could be phone numbers, with the runs inside."""
    start = end = -1
    runs: list[tuple[int, int]] = []
    for run in candidates:
        window_start = _word_start(text, max(0, run.start - _MARGIN))
        window_end = _word_end(text, min(len(text), run.end + _MARGIN))
        if runs and window_start <= end:
            end = max(end, window_end)
        else:
            if runs:
                yield start, end, runs
            start, end, runs = window_start, window_end, []
        runs.append((run.start, run.end))
    if runs:
        yield start, end, runs


def _word_start(text: str, index: int) -> int:
    while index > 0 and not text[index - 1].isspace():
        index -= 1
    return index


def _word_end(text: str, index: int) -> int:
    while index < len(text) and not text[index].isspace():
        index += 1
    return index
