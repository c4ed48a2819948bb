"""Feedback in the database, and its summary per route, deployment or day joined with the request log.

A request's route and deployment come from its request-log row, so feedback on a request whose row
is not (yet) in the log is kept and shows in the summary once the row arrives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import sqlalchemy as sa

from keel.feedback.model import Feedback
from keel.store.sql import Database
from keel.store.sql_spend import day_of
from keel.store.tables import feedback, request_log

FeedbackBy = Literal["route", "deployment", "model", "day"]
FEEDBACK_BY: tuple[str, ...] = get_args(FeedbackBy)


@dataclass(frozen=True, slots=True)
class FeedbackRow:
    group: str | None
    count: int
    scored: int
    mean_score: float | None
    labels: dict[str, int]


class SqlFeedbackStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, item: Feedback) -> None:
        async with self._db.engine.begin() as conn:
            await conn.execute(
                sa.insert(feedback).values(
                    feedback_id=item.feedback_id,
                    ts=item.ts,
                    request_id=item.request_id,
                    score=item.score,
                    label=item.label,
                    comment=item.comment,
                    key_id=item.key_id,
                )
            )

    async def summary(
        self, by: FeedbackBy, since: float | None, until: float | None, route: str | None = None
    ) -> list[FeedbackRow]:
        dialect = self._db.dialect
        group = day_of(dialect, feedback.c.ts) if by == "day" else request_log.c[by]
        joined = feedback.join(request_log, request_log.c.request_id == feedback.c.request_id)
        conditions: list[sa.ColumnElement[bool]] = []
        if since is not None:
            conditions.append(feedback.c.ts >= since)
        if until is not None:
            conditions.append(feedback.c.ts < until)
        if route is not None:
            conditions.append(request_log.c.route == route)
        totals = (
            sa.select(group.label("g"), sa.func.count(), sa.func.count(feedback.c.score), sa.func.avg(feedback.c.score))
            .select_from(joined)
            .where(*conditions)
            .group_by(group)
        )
        labels = (
            sa.select(group.label("g"), feedback.c.label, sa.func.count())
            .select_from(joined)
            .where(feedback.c.label.is_not(None), *conditions)
            .group_by(group, feedback.c.label)
        )
        async with self._db.engine.connect() as conn:
            rows = (await conn.execute(totals)).all()
            label_rows = (await conn.execute(labels)).all()
        counts: dict[str | None, dict[str, int]] = {}
        for g, label, count in label_rows:
            counts.setdefault(g, {})[label] = int(count)
        result = [
            FeedbackRow(g, int(n), int(scored), float(mean) if mean is not None else None, counts.get(g, {}))
            for g, n, scored, mean in rows
        ]
        return sorted(result, key=lambda r: (r.group is None, r.group or ""))

    async def for_requests(self, request_ids: Sequence[str]) -> list[Feedback]:
        query = sa.select(feedback).where(feedback.c.request_id.in_(list(request_ids)))
        async with self._db.engine.connect() as conn:
            return [
                Feedback(r.request_id, r.score, r.label, r.comment, r.key_id, r.feedback_id, r.ts)
                for r in await conn.execute(query)
            ]
