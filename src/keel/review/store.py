"""The human review queue in the database: exchanges waiting for a person, and what the person decided.

Nothing personal is kept: the conversation and the answer are PII-redacted on the way in (typed
placeholders, numbered across the whole exchange so ``<EMAIL_1>`` in the question and in the answer is
the same address), and so is a reviewer's note. A corrected answer is stored as the reviewer wrote it:
it is the reference answer canary tests compare against.

A review is decided once: ``pending`` becomes ``approved``, ``rejected`` or ``corrected``, and the
decision adds feedback on the request (approved: score 1; rejected: 0; corrected: 0, label
``corrected``), so review outcomes show in the feedback summary beside the applications' own.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal, get_args

import sqlalchemy as sa

from keel.feedback.model import Feedback
from keel.guards.pii.detector import PiiDetector
from keel.guards.pii.redact import redact
from keel.store.sql import Database
from keel.store.sql_feedback import SqlFeedbackStore
from keel.store.tables import reviews

Json = dict[str, Any]
Reason = Literal["low_confidence", "sample"]
Status = Literal["pending", "approved", "rejected", "corrected"]
Decision = Literal["approve", "reject", "correct"]
STATUSES: tuple[str, ...] = get_args(Status)
DECISIONS: tuple[str, ...] = get_args(Decision)
_OUTCOME: dict[str, tuple[Status, float, str | None]] = {
    "approve": ("approved", 1.0, None),
    "reject": ("rejected", 0.0, None),
    "correct": ("corrected", 0.0, "corrected"),
}


class ReviewError(Exception):
    """A review that cannot be found or decided; the message says which and why."""


class ReviewNotFound(ReviewError):
    pass


class ReviewDecided(ReviewError):
    """The review was decided before; a decision is final."""


@dataclass(frozen=True, slots=True)
class Review:
    request_id: str
    route: str
    deployment: str | None
    reason: Reason
    """``low_confidence``: the answer scored below the route's threshold; ``sample``: a spot check."""
    confidence: float | None
    parts: dict[str, float]
    messages: list[Json]
    """The conversation as ``{role, content}`` messages (content: text, or a list of text parts)."""
    answer: str | None
    review_id: str = field(default_factory=lambda: f"rv_{secrets.token_hex(6)}")
    ts: float = field(default_factory=time.time)
    status: Status = "pending"
    reviewer: str | None = None
    note: str | None = None
    corrected_answer: str | None = None
    decided_at: float | None = None

    @property
    def prompt(self) -> str | None:
        """The question as one text, when the conversation is a single user message of plain text."""
        if len(self.messages) == 1 and self.messages[0].get("role") == "user":
            content = self.messages[0].get("content")
            return content if isinstance(content, str) else None
        return None


class SqlReviewStore:
    def __init__(self, db: Database, detector: PiiDetector | None = None) -> None:
        self._db = db
        self._detector = detector if detector is not None else PiiDetector()

    async def queue(self, item: Review) -> Review:
        """Store ``item`` redacted; returns it as stored."""
        stored = self._redacted(item)
        async with self._db.engine.begin() as conn:
            await conn.execute(sa.insert(reviews).values(asdict(stored)))
        return stored

    async def get(self, review_id: str) -> Review | None:
        async with self._db.engine.connect() as conn:
            row = (await conn.execute(sa.select(reviews).where(reviews.c.review_id == review_id))).first()
        return _review(row) if row is not None else None

    async def list(
        self, route: str | None = None, status: Status | None = "pending", limit: int | None = 50
    ) -> list[Review]:
        """Reviews in the order they were queued, oldest first (the queue is worked through in order)."""
        query = sa.select(reviews).order_by(reviews.c.ts, reviews.c.review_id).limit(limit)
        if route is not None:
            query = query.where(reviews.c.route == route)
        if status is not None:
            query = query.where(reviews.c.status == status)
        async with self._db.engine.connect() as conn:
            return [_review(row) for row in await conn.execute(query)]

    async def decide(
        self,
        review_id: str,
        decision: Decision,
        reviewer: str,
        note: str | None = None,
        corrected_answer: str | None = None,
    ) -> Review:
        """Decide a pending review and add the matching feedback on its request.

        Raises ``ValueError`` for a correction without its answer (or an answer given without one),
        ``ReviewNotFound`` and ``ReviewDecided``.
        """
        if (decision == "correct") != bool(corrected_answer and corrected_answer.strip()):
            raise ValueError("a correction needs the corrected answer, and only a correction takes one")
        status, score, label = _OUTCOME[decision]
        note = self._redact(note, {}) if note else None
        decided_at = time.time()
        # Only a pending review changes, in one statement: of two reviewers deciding at once, one wins.
        update = (
            sa.update(reviews)
            .where(reviews.c.review_id == review_id, reviews.c.status == "pending")
            .values(
                status=status, reviewer=reviewer, note=note, corrected_answer=corrected_answer, decided_at=decided_at
            )
        )
        async with self._db.engine.begin() as conn:
            changed = (await conn.execute(update)).rowcount
        found = await self.get(review_id)
        if found is None:
            raise ReviewNotFound(f"no review {review_id!r}")
        if not changed:
            raise ReviewDecided(f"review {review_id} was already {found.status} by {found.reviewer}")
        await SqlFeedbackStore(self._db).add(Feedback(found.request_id, score, label, note, None))
        return found

    def _redacted(self, item: Review) -> Review:
        mapping: dict[str, str] = {}  # shared by the whole exchange: one value, one placeholder

        def scrub(text: str) -> str:
            return self._redact(text, mapping)

        messages = [_message(message, scrub) for message in item.messages]
        answer = scrub(item.answer) if item.answer else item.answer
        return replace(item, messages=messages, answer=answer)

    def _redact(self, text: str, mapping: dict[str, str]) -> str:
        """``text`` with its personal data replaced; placeholders continue from ``mapping``, which is updated."""
        spans = self._detector.detect(text)
        if not spans:
            return text
        redaction = redact(text, spans, mapping=mapping)
        mapping.update(redaction.mapping)
        return redaction.text


def _message(message: Mapping[str, Any], scrub: Callable[[str], str]) -> Json:
    content = message.get("content")
    if isinstance(content, str):
        content = scrub(content)
    elif isinstance(content, list):
        content = [
            {"type": "text", "text": scrub(part["text"])}
            for part in content
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
        ]
    else:
        content = None
    return {"role": message.get("role"), "content": content}


def _review(row: sa.Row[Any]) -> Review:
    return Review(**{name: row._mapping[name] for name in _FIELDS})


_FIELDS = tuple(f.name for f in fields(Review))
