"""The detector as a whole: entity selection, thresholds, overlap resolution, ordering and offsets."""

from __future__ import annotations

import itertools

import pytest

from keel.guards.pii import ALL_ENTITIES, PiiDetector, PiiSpan, resolve_overlaps

MIXED = (
    "Hi, I'm Jennifer Walsh (jennifer.walsh@example.com, +1 415 555 2671). "
    "Card 4111 1111 1111 1111, IBAN GB82 WEST 1234 5698 7654 32, SSN 536-90-4399, "
    "server 10.20.30.40, key sk-" + "proj-Abc123Def456Ghi789Jkl012Mno345, home 221B Baker Street."
)


def test_every_entity_type_in_one_text(detector: PiiDetector) -> None:
    spans = detector.detect(MIXED)
    assert {span.entity for span in spans} == ALL_ENTITIES
    assert [span.start for span in spans] == sorted(span.start for span in spans)
    for earlier, later in itertools.pairwise(spans):
        assert earlier.end <= later.start


def test_only_the_requested_entities() -> None:
    detector = PiiDetector(["EMAIL", "IBAN"])
    assert {span.entity for span in detector.detect(MIXED)} == {"EMAIL", "IBAN"}
    assert detector.entities == frozenset({"EMAIL", "IBAN"})


def test_unknown_entity_names_fail_loudly() -> None:
    with pytest.raises(ValueError, match="DATE_TIME"):
        PiiDetector(["EMAIL", "DATE_TIME"])


def test_min_score_filters(detector: PiiDetector) -> None:
    text = "My SSN is 536 90 4399 and call Patricia."
    strict = PiiDetector(min_score=0.8)
    assert {span.entity for span in detector.detect(text)} == {"US_SSN", "PERSON"}
    assert {span.entity for span in strict.detect(text)} == {"US_SSN"}
    with pytest.raises(ValueError, match="min_score"):
        PiiDetector(min_score=1.5)


def test_text_without_personal_data(detector: PiiDetector) -> None:
    text = (
        "The service reads its settings at start-up. Version 3.2 changed the timeout from 30 to 60 seconds; "
        "the error rate fell to 0.4 percent in Q2 after the pool was resized to 64 connections on 2024-05-17."
    )
    assert detector.detect(text) == []
    assert detector.detect("") == []


def test_offsets_are_python_string_indices_with_unicode(detector: PiiDetector) -> None:
    text = "Größe 🙂 naïve café — schreib an jürgen.müller@example.de oder 4111 1111 1111 1111 ✓"
    spans = detector.detect(text)
    assert [(s.entity, text[s.start : s.end]) for s in spans] == [
        ("EMAIL", "jürgen.müller@example.de"),
        ("CREDIT_CARD", "4111 1111 1111 1111"),
    ]


def test_overlaps_resolved_by_score_then_length() -> None:
    spans = [
        PiiSpan("PHONE_NUMBER", 0, 10, 0.7),
        PiiSpan("US_SSN", 2, 8, 0.9),  # higher score wins over the longer phone
        PiiSpan("PERSON", 20, 25, 0.6),
        PiiSpan("STREET_ADDRESS", 18, 30, 0.6),  # same score: the longer span wins
        PiiSpan("EMAIL", 30, 35, 0.5),  # touching is not overlapping
    ]
    assert resolve_overlaps(spans) == [
        PiiSpan("US_SSN", 2, 8, 0.9),
        PiiSpan("STREET_ADDRESS", 18, 30, 0.6),
        PiiSpan("EMAIL", 30, 35, 0.5),
    ]


def test_overlap_resolution_keeps_a_non_overlapping_set_in_order() -> None:
    spans = [PiiSpan("EMAIL", start, start + length, score) for start, length, score in
             [(0, 5, 0.5), (3, 5, 0.6), (7, 2, 0.9), (9, 4, 0.5), (12, 6, 0.7), (1, 1, 0.95)]]  # fmt: skip
    kept = resolve_overlaps(spans)
    assert kept == sorted(kept, key=lambda s: s.start)
    for earlier, later in itertools.pairwise(kept):
        assert earlier.end <= later.start
    assert PiiSpan("EMAIL", 1, 2, 0.95) in kept and PiiSpan("EMAIL", 7, 9, 0.9) in kept
