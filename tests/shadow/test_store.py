"""Shadow results on SQLite and PostgreSQL: round trips, windows, and summaries checked against numpy."""

from __future__ import annotations

import random
from decimal import Decimal

import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from keel.shadow.store import ShadowResult, SqlShadowStore, nearest_rank
from keel.store.sql import Database
from keel.store.sql_request_log import SqlRequestLogStore
from keel.store.tables import metadata
from tests.store import conftest as store_fixtures
from tests.store.conftest import make_record

# A fresh database per test, on SQLite and on PostgreSQL (a schema of its own).
db_target = store_fixtures.db_target
db = store_fixtures.db

T0 = 1_700_000_000.0


def _result(n: int, **fields: object) -> ShadowResult:
    values: dict[str, object] = {
        "request_id": f"req-{n:06d}",
        "route": "support",
        "live_deployment": "live",
        "candidate": "cheap",
        "ts": T0 + n,
        "live_latency_ms": 100.0 + n,
        "shadow_latency_ms": 50.0 + n,
        "live_cost_usd": 0.000014,
        "shadow_cost_usd": 0.000002,
        "similarity": 0.5,
        "lexical_similarity": 0.5,
    }
    values.update(fields)
    return ShadowResult(**values)  # type: ignore[arg-type]


async def test_results_read_back_as_written_newest_first_within_the_window(db: Database) -> None:
    store = SqlShadowStore(db)
    full = _result(
        1,
        similarity=0.75,
        lexical_similarity=0.5,
        semantic_similarity=0.75,
        json_equal=False,
        length_ratio=1.25,
        live_guard_actions=("pii=allow", "contains=flag"),
        shadow_guard_actions=("pii=redact", "contains=block"),
        live_cost_usd=0.000000123,
        shadow_cost_usd=1.5,
    )
    failed = _result(2, shadow_cost_usd=None, similarity=None, lexical_similarity=None, error="UpstreamTimeout")
    await store.record([full, failed, _result(3, route="other"), _result(9)])
    assert await store.results("support", T0 + 1, until=T0 + 9) == [failed, full]
    assert [r.request_id for r in await store.results("support", T0)] == ["req-000009", "req-000002", "req-000001"]
    assert [r.request_id for r in await store.results("support", T0, limit=1)] == ["req-000009"]
    await store.record([])  # an empty batch is no statement at all


async def test_the_summary_matches_an_independent_computation(db: Database) -> None:
    rng = random.Random(7)
    results: list[ShadowResult] = []
    for n in range(200):
        if n % 17 == 0:
            results.append(_result(n, similarity=None, lexical_similarity=None, shadow_cost_usd=None, error="E"))
            continue
        results.append(
            _result(
                n,
                similarity=round(rng.random(), 6),
                live_latency_ms=rng.lognormvariate(5, 0.5),
                shadow_latency_ms=rng.lognormvariate(4, 0.7),
                live_cost_usd=rng.randrange(1, 10**6) / 1e9,
                shadow_cost_usd=None if n % 23 == 0 else rng.randrange(1, 10**6) / 1e9,
                json_equal=None if n % 3 else n % 2 == 0,
                live_guard_actions=None if n % 5 else ("v=allow",),
                shadow_guard_actions=None if n % 5 else (("v=block",) if n % 10 == 0 else ("v=allow", "w=flag")),
            )
        )
    await SqlShadowStore(db).record(results)
    await SqlRequestLogStore(db).write_batch(
        [make_record(n, route="support", status=200 if n % 4 else 502) for n in range(300)]
        + [make_record(1000 + n, route="other") for n in range(5)]
    )
    summary = await SqlShadowStore(db).summary("support", T0, similar_at=0.8)

    ok = [r for r in results if r.error is None]
    similarities = np.array([r.similarity for r in ok])
    assert summary.count == 200 and summary.errors == 200 - len(ok) == 12
    assert summary.answered == 300 - 75  # request-log rows of the route answered with a 200
    assert summary.candidates == ("cheap",)
    assert summary.compared == len(ok)
    assert summary.similarity_mean == pytest.approx(similarities.mean(), rel=1e-12)
    assert summary.similarity_p50 == np.percentile(similarities, 50, method="inverted_cdf")
    assert summary.similar == int((similarities >= 0.8).sum())
    assert summary.similar_share == summary.similar / len(ok)
    json_checked = [r.json_equal for r in ok if r.json_equal is not None]
    assert (summary.json_compared, summary.json_equal) == (len(json_checked), sum(json_checked))
    for side, column in (("live", "live_latency_ms"), ("shadow", "shadow_latency_ms")):
        values = np.array([getattr(r, column) for r in ok])
        for q, name in ((50, "p50"), (99, "p99")):
            expected = np.percentile(values, q, method="inverted_cdf")
            assert getattr(summary, f"{side}_latency_{name}_ms") == pytest.approx(expected, rel=1e-12)
    priced = [r for r in ok if r.shadow_cost_usd is not None]
    live_total = sum(Decimal(repr(r.live_cost_usd)) for r in priced)
    shadow_total = sum(Decimal(repr(r.shadow_cost_usd)) for r in priced)
    assert summary.priced == len(priced)
    assert (summary.live_cost_usd, summary.shadow_cost_usd) == (live_total, shadow_total)
    assert summary.cost_difference_usd == shadow_total - live_total
    checked = [r for r in ok if r.live_guard_actions is not None]
    blocked = [r for r in checked if r.shadow_guard_actions == ("v=block",)]
    flagged = [r for r in checked if r.shadow_guard_actions == ("v=allow", "w=flag")]
    assert summary.guard_checked == len(checked)
    assert summary.guard_disagreements == {"allow→block": len(blocked), "allow→flag": len(flagged)}


async def test_an_empty_window_has_no_figures(db: Database) -> None:
    store = SqlShadowStore(db)
    await store.record([_result(1)])
    summary = await store.summary("support", T0 + 10)
    assert (summary.count, summary.errors, summary.compared, summary.priced, summary.answered) == (0, 0, 0, 0, 0)
    assert summary.similarity_mean is summary.similarity_p50 is summary.similar_share is None
    assert summary.live_latency_p99_ms is summary.shadow_latency_p50_ms is None
    assert summary.live_cost_usd == summary.shadow_cost_usd == Decimal(0)
    assert summary.guard_disagreements == {} and summary.candidates == ()


@pytest.mark.parametrize("n", [1, 2, 3, 10, 99, 100, 101, 1000])
def test_nearest_rank_agrees_with_numpy(n: int) -> None:
    values = np.arange(n, dtype=float)
    for q in (0.01, 0.5, 0.9, 0.99, 1.0):
        assert values[nearest_rank(n, q)] == np.percentile(values, q * 100, method="inverted_cdf")


def _table_differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return [d for d in compare_metadata(context, metadata) if "shadow_results" in repr(d)]


async def test_the_migration_creates_the_table_as_defined(db: Database) -> None:
    async with db.engine.connect() as connection:
        assert await connection.run_sync(_table_differences) == []
