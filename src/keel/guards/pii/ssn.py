"""US Social Security numbers: the AAA-GG-SSSS shape plus the Social Security Administration's rules.

No area 000, 666 or 900-999, no group 00, no serial 0000. Nine digits with no separator are a weak hint
(many things are nine digits long); the dashed form is a good one, and "SSN"/"social security" nearby
makes any of them near certain.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from keel.guards.pii.base import ContextCue, NumberRun, ScannedText
from keel.guards.pii.entities import US_SSN, PiiSpan

_SSN = re.compile(r"(?<![\w-])(\d{3})([- ]?)(\d{2})\2(\d{4})(?![\w-]|[.,]\d)", re.ASCII)
_CUE = ContextCue(("ssn", "ssns", "ss#", "social security", "social sec", "social insurance", "taxpayer"))
# Numbers published as examples (on a wallet insert, in SSA leaflets) and not anyone's.
_PUBLISHED_EXAMPLES = frozenset({"123456789", "078051120", "219099999"})
# (separator) -> (score alone, score with a context word)
_SCORES = {"-": (0.6, 0.95), " ": (0.4, 0.85), "": (0.3, 0.8)}


class UsSsnRecogniser:
    entities = frozenset({US_SSN})

    def find(self, scanned: ScannedText) -> Iterator[PiiSpan]:
        text = scanned.text
        for run in scanned.runs_with(9):
            yield from self._in_run(text, run)

    def _in_run(self, text: str, run: NumberRun) -> Iterator[PiiSpan]:
        for match in _SSN.finditer(text, run.start, run.end + 2):
            area, separator, group, serial = match.groups()
            if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
                continue
            if area + group + serial in _PUBLISHED_EXAMPLES:
                continue
            alone, cued = _SCORES[separator]
            score = cued if _CUE.near(text, match.start()) else alone
            yield PiiSpan(US_SSN, match.start(), match.end(), score)
