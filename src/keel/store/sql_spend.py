"""Spend over the request log, grouped by one dimension, summed in the database (SQLite or PostgreSQL).

Sums are exact to the nano-dollar on both databases. PostgreSQL keeps ``cost_usd`` as NUMERIC, but
SQLite has no decimal type and keeps it as a binary float, which a plain ``SUM`` would add with
rounding error at every row. So each row is first turned into whole nano-dollars (the column holds at
most nine decimals, and a float is far more precise than one nano-dollar at any per-request amount),
and the integers are summed: integer addition is exact on both databases, and the work stays in SQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, get_args

import sqlalchemy as sa
from sqlalchemy.engine import Row

from keel.cost.money import nanos_to_usd
from keel.store.sql import Database
from keel.store.tables import request_log

SpendBy = Literal["key", "team", "route", "feature", "model", "deployment", "day"]
SPEND_BY: tuple[str, ...] = get_args(SpendBy)

# The dimensions a report can be grouped or filtered by, as request-log columns.
_DIMENSIONS: dict[str, sa.ColumnElement[Any]] = {
    "key": request_log.c.key_id,
    "team": request_log.c.team,
    "route": request_log.c.route,
    "feature": request_log.c.feature,
    "model": request_log.c.model,
    "deployment": request_log.c.deployment,
}


@dataclass(frozen=True, slots=True)
class SpendRow:
    """One group's totals. ``group`` is None for requests without a value in that dimension."""

    group: str | None
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: Decimal  # exact, nine decimal places


def day_of(dialect: str, ts: sa.ColumnElement[float] | sa.Column[float] = request_log.c.ts) -> sa.ColumnElement[str]:
    """A timestamp column's UTC calendar date as ``YYYY-MM-DD``."""
    if dialect == "postgresql":
        utc = sa.func.timezone("UTC", sa.func.to_timestamp(ts))
        return sa.func.to_char(utc, "YYYY-MM-DD")
    return sa.func.strftime("%Y-%m-%d", ts, "unixepoch")


def _nanos() -> sa.ColumnElement[int]:
    # Written into the SQL, not bound: PostgreSQL must see one identical expression, with no parameters
    # of guessed type, wherever it appears.
    nanos = sa.func.round(request_log.c.cost_usd * sa.literal_column("1000000000"))
    return sa.cast(nanos, sa.BigInteger)


class SqlSpendStore:
    """Aggregate reads of the request log for spend reports."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def spend(
        self,
        by: SpendBy,
        since: float | None,
        until: float | None,
        filters: Mapping[str, str] | None = None,
    ) -> list[SpendRow]:
        """Totals per group for requests with ``since <= ts < until``, most expensive first.

        ``filters`` maps dimensions (``key``, ``team``, ``route``, ``feature``, ``model``,
        ``deployment``) to the one value each must have. Requests without a recorded cost count
        towards requests and tokens but add nothing to the cost.
        """
        if by == "day":
            group = day_of(self._db.dialect)
        elif by in _DIMENSIONS:
            group = _DIMENSIONS[by]
        else:
            raise ValueError(f"cannot group spend by {by!r}; use one of {', '.join(SPEND_BY)}")
        conditions: list[sa.ColumnElement[bool]] = []
        if since is not None:
            conditions.append(request_log.c.ts >= since)
        if until is not None:
            conditions.append(request_log.c.ts < until)
        for name, value in (filters or {}).items():
            if name not in _DIMENSIONS:
                raise ValueError(f"cannot filter spend by {name!r}; use one of {', '.join(_DIMENSIONS)}")
            conditions.append(_DIMENSIONS[name] == value)
        grouped = group.label("grp")
        # SUM is NULL over no non-null values; COALESCE makes an empty sum zero.
        nanos = sa.func.coalesce(sa.func.sum(_nanos()), 0).label("nanos")
        statement = (
            sa.select(
                grouped,
                sa.func.count().label("requests"),
                sa.func.coalesce(sa.func.sum(request_log.c.prompt_tokens), 0).label("prompt_tokens"),
                sa.func.coalesce(sa.func.sum(request_log.c.completion_tokens), 0).label("completion_tokens"),
                nanos,
            )
            .where(*conditions)
            .group_by(grouped)
            .order_by(nanos.desc(), grouped.asc().nulls_last())
        )
        async with self._db.engine.connect() as connection:
            rows: Sequence[Row[Any]] = (await connection.execute(statement)).all()
        return [
            SpendRow(
                group=row.grp,
                requests=int(row.requests),
                prompt_tokens=int(row.prompt_tokens),
                completion_tokens=int(row.completion_tokens),
                cost_usd=nanos_to_usd(int(row.nanos)),
            )
            for row in rows
        ]
