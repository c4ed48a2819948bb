"""Shadow results in the database, and their summary for one route over a time window.

A result holds figures only — latencies, costs, similarities, guard actions, the candidate's error
class — never a request or an answer. Costs are whole nano-dollars (exact sums on every dialect) and
are kept here alone: the shadow call never reaches the request log, budgets or rate limits.

Percentiles are nearest-rank (the smallest value with at least q of the values at or below it), read
with ``ORDER BY … LIMIT 1 OFFSET k`` so that SQLite and PostgreSQL give the same answer and no rows
leave the database. Latencies and costs are summed over the requests whose shadow call succeeded,
both sides over the same requests.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from keel.cost.money import nanos_to_usd, usd_to_nanos
from keel.shadow.compare import worst_action
from keel.store.sql import Database
from keel.store.tables import request_log, shadow_results

_T = shadow_results.c


@dataclass(frozen=True, slots=True)
class ShadowResult:
    request_id: str
    route: str
    live_deployment: str
    candidate: str
    ts: float
    """When the live request arrived (the request log's ``ts`` for the same request id)."""
    live_latency_ms: float | None
    shadow_latency_ms: float | None
    """Until the candidate answered or failed."""
    live_cost_usd: float | None
    shadow_cost_usd: float | None
    similarity: float | None = None
    lexical_similarity: float | None = None
    semantic_similarity: float | None = None
    json_equal: bool | None = None
    length_ratio: float | None = None
    live_guard_actions: tuple[str, ...] | None = None
    """``guard=action`` of the route's output guards on the live answer; None when it has none."""
    shadow_guard_actions: tuple[str, ...] | None = None
    """The same guards on the candidate's answer; None when they were not run."""
    error: str | None = None
    """Why the candidate gave no answer: an error class (and code), never its message."""


@dataclass(frozen=True, slots=True)
class ShadowSummary:
    route: str
    since: float
    until: float | None
    similar_at: float
    candidates: tuple[str, ...]
    """The candidates the results are from (one, unless the config changed within the window)."""
    answered: int
    """Requests the route answered in the window (from the request log): what could have been mirrored."""
    count: int
    errors: int
    compared: int
    """Results with a similarity (the candidate answered and the live answer was readable)."""
    similarity_mean: float | None
    similarity_p50: float | None
    similar: int
    """Compared results at least ``similar_at`` similar."""
    json_compared: int
    json_equal: int
    live_latency_p50_ms: float | None
    live_latency_p99_ms: float | None
    shadow_latency_p50_ms: float | None
    shadow_latency_p99_ms: float | None
    priced: int
    """Results with both costs known, which the cost totals cover."""
    live_cost_usd: Decimal
    shadow_cost_usd: Decimal
    guard_checked: int
    guard_disagreements: dict[str, int] = field(default_factory=dict)
    """``live→candidate`` worst guard actions, for the results where they differ."""

    @property
    def similar_share(self) -> float | None:
        return self.similar / self.compared if self.compared else None

    @property
    def cost_difference_usd(self) -> Decimal:
        return self.shadow_cost_usd - self.live_cost_usd


def _nanos(usd: float | None) -> int | None:
    return None if usd is None else usd_to_nanos(usd)


def _usd(nanos: int | None) -> float | None:
    return None if nanos is None else float(nanos_to_usd(nanos))


def _row(result: ShadowResult) -> dict[str, Any]:
    live_actions, shadow_actions = result.live_guard_actions, result.shadow_guard_actions
    return {
        "request_id": result.request_id,
        "ts": result.ts,
        "route": result.route,
        "live_deployment": result.live_deployment,
        "candidate": result.candidate,
        "live_latency_ms": result.live_latency_ms,
        "shadow_latency_ms": result.shadow_latency_ms,
        "live_cost_nanos": _nanos(result.live_cost_usd),
        "shadow_cost_nanos": _nanos(result.shadow_cost_usd),
        "similarity": result.similarity,
        "lexical_similarity": result.lexical_similarity,
        "semantic_similarity": result.semantic_similarity,
        "json_equal": result.json_equal,
        "length_ratio": result.length_ratio,
        "live_guard_actions": list(live_actions) if live_actions is not None else None,
        "shadow_guard_actions": list(shadow_actions) if shadow_actions is not None else None,
        "live_guard_outcome": worst_action(live_actions) if live_actions is not None else None,
        "shadow_guard_outcome": worst_action(shadow_actions) if shadow_actions is not None else None,
        "error": result.error,
    }


def _result(row: sa.Row[Any]) -> ShadowResult:
    return ShadowResult(
        request_id=row.request_id,
        route=row.route,
        live_deployment=row.live_deployment,
        candidate=row.candidate,
        ts=row.ts,
        live_latency_ms=row.live_latency_ms,
        shadow_latency_ms=row.shadow_latency_ms,
        live_cost_usd=_usd(row.live_cost_nanos),
        shadow_cost_usd=_usd(row.shadow_cost_nanos),
        similarity=row.similarity,
        lexical_similarity=row.lexical_similarity,
        semantic_similarity=row.semantic_similarity,
        json_equal=row.json_equal,
        length_ratio=row.length_ratio,
        live_guard_actions=tuple(row.live_guard_actions) if row.live_guard_actions is not None else None,
        shadow_guard_actions=tuple(row.shadow_guard_actions) if row.shadow_guard_actions is not None else None,
        error=row.error,
    )


class SqlShadowStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, results: Sequence[ShadowResult]) -> None:
        """Write a batch in one statement."""
        if not results:
            return
        async with self._db.engine.begin() as conn:
            await conn.execute(sa.insert(shadow_results), [_row(r) for r in results])

    async def results(
        self, route: str, since: float, until: float | None = None, limit: int = 1000
    ) -> list[ShadowResult]:
        """The route's results in the window, newest first."""
        query = (
            sa.select(shadow_results)
            .where(*_window(route, since, until))
            .order_by(_T.ts.desc(), _T.request_id)
            .limit(limit)
        )
        async with self._db.engine.connect() as conn:
            return [_result(row) for row in await conn.execute(query)]

    async def summary(
        self, route: str, since: float, until: float | None = None, similar_at: float = 0.8
    ) -> ShadowSummary:
        window = _window(route, since, until)
        ok = (*window, _T.error.is_(None))
        priced = (*ok, _T.live_cost_nanos.is_not(None), _T.shadow_cost_nanos.is_not(None))
        totals = sa.select(
            sa.func.count(),
            sa.func.count(_T.error),
            sa.func.count(_T.similarity),
            sa.func.avg(_T.similarity),
            _count_where(_T.similarity >= similar_at),
            sa.func.count(_T.json_equal),
            _count_where(_T.json_equal),
        ).where(*window)
        costs = sa.select(sa.func.count(), sa.func.sum(_T.live_cost_nanos), sa.func.sum(_T.shadow_cost_nanos)).where(
            *priced
        )
        latencies = sa.select(sa.func.count(_T.live_latency_ms), sa.func.count(_T.shadow_latency_ms)).where(*ok)
        guards = (
            sa.select(_T.live_guard_outcome, _T.shadow_guard_outcome, sa.func.count())
            .where(*ok, _T.live_guard_outcome.is_not(None), _T.shadow_guard_outcome.is_not(None))
            .group_by(_T.live_guard_outcome, _T.shadow_guard_outcome)
        )
        answered = sa.select(sa.func.count()).where(
            request_log.c.route == route,
            request_log.c.status == 200,
            request_log.c.ts >= since,
            *((request_log.c.ts < until,) if until is not None else ()),
        )
        candidates = sa.select(_T.candidate).where(*window).distinct().order_by(_T.candidate)
        async with self._db.engine.connect() as conn:
            count, errors, compared, mean, similar, json_compared, json_equal = (await conn.execute(totals)).one()
            priced_count, live_nanos, shadow_nanos = (await conn.execute(costs)).one()
            live_n, shadow_n = (await conn.execute(latencies)).one()
            guard_rows = (await conn.execute(guards)).all()
            return ShadowSummary(
                route=route,
                since=since,
                until=until,
                similar_at=similar_at,
                candidates=tuple((await conn.scalars(candidates)).all()),
                answered=int(await conn.scalar(answered) or 0),
                count=int(count),
                errors=int(errors),
                compared=int(compared),
                similarity_mean=float(mean) if mean is not None else None,
                similarity_p50=await _percentile(conn, _T.similarity, window, int(compared), 0.5),
                similar=int(similar),
                json_compared=int(json_compared),
                json_equal=int(json_equal),
                live_latency_p50_ms=await _percentile(conn, _T.live_latency_ms, ok, int(live_n), 0.5),
                live_latency_p99_ms=await _percentile(conn, _T.live_latency_ms, ok, int(live_n), 0.99),
                shadow_latency_p50_ms=await _percentile(conn, _T.shadow_latency_ms, ok, int(shadow_n), 0.5),
                shadow_latency_p99_ms=await _percentile(conn, _T.shadow_latency_ms, ok, int(shadow_n), 0.99),
                priced=int(priced_count),
                live_cost_usd=nanos_to_usd(int(live_nanos or 0)),
                shadow_cost_usd=nanos_to_usd(int(shadow_nanos or 0)),
                guard_checked=sum(int(n) for _, _, n in guard_rows),
                guard_disagreements={f"{live}→{shadow}": int(n) for live, shadow, n in guard_rows if live != shadow},
            )


def _count_where(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    # SUM(CASE …) rather than FILTER: the same SQL on every SQLite a user may have.
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _window(route: str, since: float, until: float | None) -> tuple[sa.ColumnElement[bool], ...]:
    conditions = (_T.route == route, _T.ts >= since)
    return (*conditions, _T.ts < until) if until is not None else conditions


def nearest_rank(n: int, q: float) -> int:
    """The 0-based position of the q-quantile among ``n`` sorted values (nearest-rank definition)."""
    return max(0, math.ceil(q * n) - 1)


async def _percentile(
    conn: AsyncConnection, column: sa.Column[Any], where: Sequence[sa.ColumnElement[bool]], n: int, q: float
) -> float | None:
    if n == 0:
        return None
    query = sa.select(column).where(*where, column.is_not(None)).order_by(column).offset(nearest_rank(n, q)).limit(1)
    value = await conn.scalar(query)
    return float(value) if value is not None else None
