"""The request log summed for cost reports: per route, tier, cache outcome and escalation reason.

Forecasts and the tiered-routing report both need the same few totals: how many requests each route
served, through which tier, whether the cache answered them, why they escalated, their tokens and
their cost. One grouped query gives all of them; the reports combine the groups in Python. Costs are
summed as whole nano-dollars in SQL, exactly as the spend report does (see ``sql_spend``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row

from keel.store.sql import Database
from keel.store.sql_spend import _nanos
from keel.store.tables import request_log


@dataclass(frozen=True, slots=True)
class CostSlice:
    """The requests that share a route, a tier, a cache outcome and an escalation reason.

    Each of the four is None when the request log has no value for it (no route chosen, an untiered
    route, a route without the cache, not escalated).
    """

    route: str | None
    tier: str | None
    cache: str | None  # "hit", "miss", "bypass"
    escalation: str | None
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost_nanos: int  # exact; requests without a recorded cost add nothing
    first_ts: float
    last_ts: float

    @property
    def cache_hit(self) -> bool:
        return self.cache == "hit"


class SqlCostHistoryStore:
    """Aggregate reads of the request log for cost forecasts and tier reports."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def slices(self, since: float | None, until: float | None, route: str | None = None) -> list[CostSlice]:
        """Every slice of requests with ``since <= ts < until`` (only ``route``'s when given).

        Ordered by route, tier, cache outcome and reason, with the missing values last, so reports
        built from them come out the same on every database.
        """
        conditions: list[sa.ColumnElement[bool]] = []
        if since is not None:
            conditions.append(request_log.c.ts >= since)
        if until is not None:
            conditions.append(request_log.c.ts < until)
        if route is not None:
            conditions.append(request_log.c.route == route)
        keys = (request_log.c.route, request_log.c.tier, request_log.c.cache, request_log.c.escalation)
        statement = (
            sa.select(
                *keys,
                sa.func.count().label("requests"),
                # SUM is NULL over no non-null values; COALESCE makes an empty sum zero.
                sa.func.coalesce(sa.func.sum(request_log.c.prompt_tokens), 0).label("prompt_tokens"),
                sa.func.coalesce(sa.func.sum(request_log.c.completion_tokens), 0).label("completion_tokens"),
                sa.func.coalesce(sa.func.sum(_nanos()), 0).label("nanos"),
                sa.func.min(request_log.c.ts).label("first_ts"),
                sa.func.max(request_log.c.ts).label("last_ts"),
            )
            .where(*conditions)
            .group_by(*keys)
            .order_by(*(key.asc().nulls_last() for key in keys))
        )
        async with self._db.engine.connect() as connection:
            rows: Sequence[Row[Any]] = (await connection.execute(statement)).all()
        return [
            CostSlice(
                route=row.route,
                tier=row.tier,
                cache=row.cache,
                escalation=row.escalation,
                requests=int(row.requests),
                prompt_tokens=int(row.prompt_tokens),
                completion_tokens=int(row.completion_tokens),
                cost_nanos=int(row.nanos),
                first_ts=float(row.first_ts),
                last_ts=float(row.last_ts),
            )
            for row in rows
        ]
