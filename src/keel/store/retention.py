"""How long each kind of durable record is kept, and the pruning that enforces it.

Nothing is deleted unless ``storage.retention`` gives a kind a limit in days. Rows older than that are
deleted in batches of ``batch_rows``, one short transaction each with as long again left to other
writers after it, so the request log never waits behind one long delete. A running gateway prunes every
``every_s`` seconds, one replica per round: the round is claimed with a hot-store flag, as alert ticks
are. Pending reviews are never pruned; a canary run takes its trials with it. ``keel prune`` runs the
same pruning once, or counts what it would delete with ``--dry-run``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from pydantic import Field

from keel.config.base import StrictModel
from keel.core.clock import Clock
from keel.hot.store import HotStore
from keel.store.sql import Database
from keel.store.tables import canary_runs, feedback, incident_events, request_log, reviews, shadow_results

log = logging.getLogger("keel.retention")

DAY_S = 86_400.0


class RetentionConfig(StrictModel):
    """``storage.retention``: days to keep each kind of record; ``null`` (the default) keeps it for ever."""

    request_log_days: float | None = Field(default=None, ge=1)
    shadow_results_days: float | None = Field(default=None, ge=1)
    canary_runs_days: float | None = Field(default=None, ge=1)
    """Runs with their trials."""
    feedback_days: float | None = Field(default=None, ge=1)
    incidents_days: float | None = Field(default=None, ge=1)
    reviews_days: float | None = Field(default=None, ge=1)
    """Decided reviews, by when they were queued; pending ones stay until decided."""
    every_s: float = Field(default=3600.0, ge=1)
    batch_rows: int = Field(default=5000, ge=1, le=1_000_000)

    def limits(self) -> dict[str, float]:
        """Days to keep, by kind, for the kinds that have a limit."""
        days = {
            "request_log": self.request_log_days,
            "shadow_results": self.shadow_results_days,
            "canary_runs": self.canary_runs_days,
            "feedback": self.feedback_days,
            "incidents": self.incidents_days,
            "reviews": self.reviews_days,
        }
        return {kind: d for kind, d in days.items() if d is not None}


@dataclass(frozen=True, slots=True)
class _Kind:
    table: sa.Table
    key: sa.Column[str]
    ts: sa.Column[float]
    keep: sa.ColumnElement[bool] | None = None
    """Rows this matches are kept whatever their age."""

    def old(self, cutoff: float) -> sa.ColumnElement[bool]:
        older = self.ts < cutoff
        return older if self.keep is None else sa.and_(older, sa.not_(self.keep))


KINDS: dict[str, _Kind] = {
    "request_log": _Kind(request_log, request_log.c.request_id, request_log.c.ts),
    "shadow_results": _Kind(shadow_results, shadow_results.c.request_id, shadow_results.c.ts),
    "canary_runs": _Kind(canary_runs, canary_runs.c.run_id, canary_runs.c.started_at),
    "feedback": _Kind(feedback, feedback.c.feedback_id, feedback.c.ts),
    "incidents": _Kind(incident_events, incident_events.c.event_id, incident_events.c.ts),
    "reviews": _Kind(reviews, reviews.c.review_id, reviews.c.ts, keep=reviews.c.status == "pending"),
}


async def count_expired(db: Database, config: RetentionConfig, now: float) -> dict[str, int]:
    """Rows each limited kind holds past its limit (what a prune now would delete)."""
    counts: dict[str, int] = {}
    async with db.engine.connect() as conn:
        for name, days in config.limits().items():
            kind = KINDS[name]
            query = sa.select(sa.func.count()).select_from(kind.table).where(kind.old(now - days * DAY_S))
            counts[name] = int((await conn.execute(query)).scalar_one())
    return counts


async def prune(db: Database, config: RetentionConfig, now: float) -> dict[str, int]:
    """Delete every limited kind's rows past its limit, a batch per transaction; rows deleted, by kind."""
    deleted: dict[str, int] = {}
    for name, days in config.limits().items():
        kind = KINDS[name]
        old = kind.old(now - days * DAY_S)
        batch = sa.select(kind.key).where(old).limit(config.batch_rows)
        total = 0
        while True:
            began = time.perf_counter()
            async with db.engine.begin() as conn:
                result = await conn.execute(sa.delete(kind.table).where(kind.key.in_(batch.scalar_subquery())))
            total += result.rowcount
            if result.rowcount < config.batch_rows:
                break
            # As long again with the database left to others: the request-log writer (SQLite has one
            # writer at a time) gets in between batches instead of queueing behind the whole prune.
            await asyncio.sleep(time.perf_counter() - began)
        deleted[name] = total
    return deleted


class Pruner:
    """Prunes every ``every_s`` on the one replica that claims the round."""

    def __init__(
        self,
        db: Database,
        config: Callable[[], RetentionConfig],
        store: HotStore,
        clock: Clock,
        on_deleted: Callable[[str, int], None] | None = None,
    ) -> None:
        self._db = db
        self._config = config
        self._store = store
        self._clock = clock
        self._on_deleted = on_deleted
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="keel-retention")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def round(self) -> dict[str, int] | None:
        """Prune now if this replica claims the current round: rows deleted by kind, else None."""
        config = self._config()
        limits = config.limits()
        if not limits:
            return None
        now = self._clock.now()
        if not await self._store.flag_set(f"retention-round:{math.floor(now / config.every_s)}", 2 * config.every_s):
            return None
        deleted = await prune(self._db, config, now)
        for kind, rows in deleted.items():
            if self._on_deleted is not None:
                self._on_deleted(kind, rows)
            if rows:
                log.info("retention: deleted %d %s rows older than %g days", rows, kind, limits[kind])
        return deleted

    async def _loop(self) -> None:
        while True:
            try:
                await self.round()
            except Exception as error:  # the database or hot store is away: try next round
                log.warning("retention: nothing pruned this round: %s", error)
            await asyncio.sleep(self._config().every_s)
