"""The PII detector: runs the recognisers for the enabled entity types and settles their overlaps.

Every recogniser is one pass of precompiled patterns with a cheap pre-check (no ``@``, no e-mail search;
fewer than seven digits in a row, no phone lookup), so text without personal data costs little. Where
two findings overlap, the higher score wins, then the longer span: a card number inside a longer
reference is resolved once, here, rather than by each recogniser knowing about the others.
"""

from __future__ import annotations

import bisect
from collections.abc import Collection, Iterable, Sequence

from keel.guards.pii.addresses import StreetAddressRecogniser
from keel.guards.pii.base import Recogniser, ScannedText
from keel.guards.pii.credentials import SecretRecogniser
from keel.guards.pii.entities import ALL_ENTITIES, PERSON, PHONE_NUMBER, PiiSpan
from keel.guards.pii.lexicon import NameLexicon
from keel.guards.pii.names import PersonRecogniser
from keel.guards.pii.network import EmailRecogniser, IpAddressRecogniser
from keel.guards.pii.payment import CreditCardRecogniser, IbanRecogniser
from keel.guards.pii.phones import PhoneRecogniser
from keel.guards.pii.ssn import UsSsnRecogniser

DEFAULT_PHONE_REGIONS = ("US", "GB", "DE", "FR")
DEFAULT_MIN_SCORE = 0.5


class PiiDetector:
    """Finds personal data and secrets in text. Build once and share: ``detect`` keeps no state."""

    def __init__(
        self,
        entities: Collection[str] | None = None,
        *,
        phone_regions: Sequence[str] = DEFAULT_PHONE_REGIONS,
        min_score: float = DEFAULT_MIN_SCORE,
        lexicon: NameLexicon | None = None,
    ) -> None:
        wanted = ALL_ENTITIES if entities is None else frozenset(entities)
        unknown = sorted(wanted - ALL_ENTITIES)
        if unknown:
            raise ValueError(f"unknown PII entity types {unknown}; known: {sorted(ALL_ENTITIES)}")
        if not 0.0 <= min_score <= 1.0:
            raise ValueError(f"min_score must be between 0 and 1, not {min_score}")
        self._entities = wanted
        self._min_score = min_score
        self._recognisers = [r for r in _recognisers(wanted, phone_regions, lexicon) if r.entities & wanted]

    @property
    def entities(self) -> frozenset[str]:
        return self._entities

    def detect(self, text: str) -> list[PiiSpan]:
        """Non-overlapping findings at or above ``min_score``, in text order."""
        scanned = ScannedText.of(text)
        candidates = [
            span
            for recogniser in self._recognisers
            for span in recogniser.find(scanned)
            if span.score >= self._min_score and span.entity in self._entities and span.end > span.start
        ]
        return resolve_overlaps(candidates)


def _recognisers(wanted: frozenset[str], phone_regions: Sequence[str], lexicon: NameLexicon | None) -> list[Recogniser]:
    found: list[Recogniser] = [
        SecretRecogniser(),
        EmailRecogniser(),
        CreditCardRecogniser(),
        IbanRecogniser(),
        UsSsnRecogniser(),
        IpAddressRecogniser(),
        StreetAddressRecogniser(),
    ]
    if PHONE_NUMBER in wanted:
        found.append(PhoneRecogniser(phone_regions))
    if PERSON in wanted:
        found.append(PersonRecogniser(lexicon or NameLexicon.load()))
    return found


def resolve_overlaps(spans: Iterable[PiiSpan]) -> list[PiiSpan]:
    """Keep the best of overlapping spans (highest score, then longest, then earliest), sorted by start."""
    starts: list[int] = []
    kept: list[PiiSpan] = []
    for span in sorted(spans, key=lambda s: (-s.score, -s.length, s.start)):
        index = bisect.bisect_left(starts, span.start)
        if index > 0 and kept[index - 1].end > span.start:
            continue
        if index < len(kept) and kept[index].start < span.end:
            continue
        starts.insert(index, span.start)
        kept.insert(index, span)
    return kept
