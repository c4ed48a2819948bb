"""The signals alert rules watch, read from the request log (and feedback) in the database.

Reading the shared database rather than one process's counters means every replica sees the same
values, whatever replica served the requests. Each value is over ``[now - window_s, now)``; ``None``
means too few samples to judge (see ``AlertRule.min_samples``).
"""

from __future__ import annotations

import math

import sqlalchemy as sa

from keel.monitor.rules.config import AlertRule
from keel.store.sql import Database
from keel.store.tables import feedback, request_log

_MAX_LATENCY_ROWS = 200_000


class SqlSignals:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def value(self, rule: AlertRule, now: float) -> float | None:
        since = now - rule.window_s
        where = [request_log.c.ts >= since, request_log.c.ts < now]
        if rule.route is not None:
            where.append(request_log.c.route == rule.route)
        async with self._db.engine.connect() as conn:
            if rule.signal == "feedback_score":
                joined = feedback.join(request_log, request_log.c.request_id == feedback.c.request_id)
                query = (
                    sa.select(sa.func.count(feedback.c.score), sa.func.avg(feedback.c.score))
                    .select_from(joined)
                    .where(feedback.c.ts >= since, feedback.c.ts < now, *where[2:])
                )
                count, mean = (await conn.execute(query)).one()
                return float(mean) if count >= rule.min_samples and mean is not None else None
            if rule.signal == "p99_latency_ms":
                query = sa.select(request_log.c.latency_ms).where(*where).limit(_MAX_LATENCY_ROWS)
                latencies = sorted(row[0] for row in await conn.execute(query))
                if len(latencies) < rule.min_samples:
                    return None
                return float(latencies[max(0, math.ceil(0.99 * len(latencies)) - 1)])
            counted = {
                "error_rate": request_log.c.status >= 500,
                "guard_blocks": request_log.c.error_code == "guard_blocked",
                "safe_mode_rate": request_log.c.safe_mode.is_not(None),
            }
            query = sa.select(
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(request_log.c.cost_usd), 0),
                *(sa.func.count().filter(condition) for condition in counted.values()),
            ).where(*where)
            total, cost, errors, blocks, safe = (await conn.execute(query)).one()
        if rule.signal == "requests":
            return float(total)
        if rule.signal == "cost_usd":
            return float(cost)
        if rule.signal == "guard_blocks":
            return float(blocks)
        if total < rule.min_samples:
            return None
        return float(errors if rule.signal == "error_rate" else safe) / float(total)
