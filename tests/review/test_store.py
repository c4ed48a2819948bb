"""The review queue on SQLite and PostgreSQL: redacted on the way in, decided once, feedback on decision."""

from __future__ import annotations

from typing import Any

import pytest

from keel.review.store import Decision, Review, ReviewDecided, ReviewNotFound, SqlReviewStore
from keel.store.sql import Database
from keel.store.sql_feedback import SqlFeedbackStore
from tests.store import conftest as store_fixtures

# A fresh database per test, on SQLite and on PostgreSQL (a schema of its own).
db_target = store_fixtures.db_target
db = store_fixtures.db


def review(n: int, route: str = "support", **overrides: Any) -> Review:
    values: dict[str, Any] = {
        "request_id": f"req-{n}",
        "route": route,
        "deployment": "faq",
        "reason": "low_confidence",
        "confidence": 0.25,
        "parts": {"faq": 0.25, "refusal": 1.0},
        "messages": [{"role": "user", "content": f"question {n}"}],
        "answer": f"answer {n}",
        "ts": 1_700_000_000.0 + n,
    }
    values.update(overrides)
    return Review(**values)


async def test_what_is_queued_is_redacted_with_one_numbering_for_the_exchange(db: Database) -> None:
    store = SqlReviewStore(db)
    item = review(
        1,
        messages=[
            {"role": "system", "content": "Be brief.", "name": "policy"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "I am Ada Lovelace, mail me at ada@example.com"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/scan.png"}},
                ],
            },
        ],
        answer="Sure, I will write to ada@example.com or bob@example.org.",
    )
    stored = await store.queue(item)
    assert stored.messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "I am <PERSON_1>, mail me at <EMAIL_1>"}]},
    ]
    assert stored.answer == "Sure, I will write to <EMAIL_1> or <EMAIL_2>."
    assert await store.get(item.review_id) == stored
    assert await store.get("rv_missing") is None


async def test_the_queue_lists_oldest_first_by_route_and_status(db: Database) -> None:
    store = SqlReviewStore(db)
    for item in (review(3), review(1, route="billing"), review(2)):
        await store.queue(item)
    assert [r.request_id for r in await store.list()] == ["req-1", "req-2", "req-3"]
    assert [r.request_id for r in await store.list("support")] == ["req-2", "req-3"]
    assert [r.request_id for r in await store.list(limit=1)] == ["req-1"]
    first = (await store.list("support"))[0]
    await store.decide(first.review_id, "approve", "alice")
    assert [r.request_id for r in await store.list("support")] == ["req-3"]
    assert [r.request_id for r in await store.list("support", "approved")] == ["req-2"]
    assert len(await store.list(status=None, limit=None)) == 3


@pytest.mark.parametrize(
    ("decision", "answer", "status", "score", "label"),
    [
        ("approve", None, "approved", 1.0, None),
        ("reject", None, "rejected", 0.0, None),
        ("correct", "Refunds take 5 to 7 working days.", "corrected", 0.0, "corrected"),
    ],
)
async def test_a_decision_is_final_and_becomes_feedback(
    db: Database, decision: Decision, answer: str | None, status: str, score: float, label: str | None
) -> None:
    store = SqlReviewStore(db)
    queued = await store.queue(review(1))
    decided = await store.decide(queued.review_id, decision, "alice", "asked Ada at ada@example.com", answer)
    assert (decided.status, decided.reviewer, decided.corrected_answer) == (status, "alice", answer)
    assert decided.note == "asked <PERSON_1> at <EMAIL_1>"
    assert decided.decided_at is not None and decided.messages == queued.messages
    [feedback] = await SqlFeedbackStore(db).for_requests(["req-1"])
    assert (feedback.score, feedback.label, feedback.comment) == (score, label, decided.note)
    with pytest.raises(ReviewDecided, match=f"review {queued.review_id} was already {status} by alice"):
        await store.decide(queued.review_id, "reject", "bob")
    assert len(await SqlFeedbackStore(db).for_requests(["req-1"])) == 1
    assert await store.get(queued.review_id) == decided


async def test_decisions_that_cannot_be_made(db: Database) -> None:
    store = SqlReviewStore(db)
    queued = await store.queue(review(1))
    with pytest.raises(ReviewNotFound, match="no review 'rv_missing'"):
        await store.decide("rv_missing", "approve", "alice")
    with pytest.raises(ValueError, match="needs the corrected answer"):
        await store.decide(queued.review_id, "correct", "alice", corrected_answer="  ")
    with pytest.raises(ValueError, match="only a correction takes one"):
        await store.decide(queued.review_id, "approve", "alice", corrected_answer="Better answer")
    assert (await store.get(queued.review_id)) == queued
    assert await SqlFeedbackStore(db).for_requests(["req-1"]) == []
