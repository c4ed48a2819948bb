"""Retention on SQLite and PostgreSQL: what is older than its kind's limit goes, everything else stays.

Rows are written the way Keel writes them where a store exists (the request log) and as plain rows
elsewhere; the clock is fixed, so "older than N days" is exact.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import ValidationError
from typer.testing import CliRunner

from keel.cli.main import app
from keel.hot.memory import MemoryHotStore
from keel.services.runtime import Runtime, load_config
from keel.store.retention import DAY_S, Pruner, RetentionConfig, count_expired, prune
from keel.store.sql import Database, open_database
from keel.store.sql_request_log import SqlRequestLogStore
from keel.store.tables import (
    canary_runs,
    canary_trials,
    feedback,
    incident_events,
    request_log,
    reviews,
    shadow_results,
)
from tests.clocks import ManualClock
from tests.store.conftest import make_record

NOW = 1_795_608_000.0
AGES_DAYS = [0.5, 5, 29, 31, 60, 400]  # one row of each kind at each age


def _ts(age_days: float) -> float:
    return NOW - age_days * DAY_S


async def _fill(db: Database) -> None:
    await SqlRequestLogStore(db).write_batch(
        [make_record(i, ts=_ts(age), request_id=f"req-{i}") for i, age in enumerate(AGES_DAYS)]
    )
    rows: dict[sa.Table, list[dict[str, Any]]] = {
        shadow_results: [],
        canary_runs: [],
        canary_trials: [],
        feedback: [],
        incident_events: [],
        reviews: [],
    }
    for i, age in enumerate(AGES_DAYS):
        ts = _ts(age)
        rows[shadow_results].append(
            {"request_id": f"sh-{i}", "ts": ts, "route": "bot", "live_deployment": "a", "candidate": "b"}
        )
        rows[canary_runs].append(
            {
                "run_id": f"run-{i}",
                "suite": "smoke",
                "target_kind": "route",
                "target_name": "bot",
                "suite_digest": "d",
                "trigger": "manual",
                "started_at": ts,
                "finished_at": ts + 1,
                "alert_below": 0.9,
                "trials": 2,
                "passed": 2,
                "pass_rate": 1.0,
                "alert": False,
            }
        )
        for position in (0, 1):
            rows[canary_trials].append(
                {
                    "run_id": f"run-{i}",
                    "position": position,
                    "test_id": "t",
                    "repeat_index": position,
                    "passed": True,
                    "latency_ms": 1.0,
                    "outcomes": [],
                }
            )
        rows[feedback].append({"feedback_id": f"fb-{i}", "ts": ts, "request_id": f"req-{i}", "score": 1.0})
        rows[incident_events].append(
            {"event_id": f"inc-{i}", "ts": ts, "severity": "sev1", "kind": "pii", "summary": "s", "details": {}}
        )
        for status in ("pending", "approved"):
            rows[reviews].append(
                {
                    "review_id": f"rv-{status}-{i}",
                    "ts": ts,
                    "request_id": f"req-{i}",
                    "route": "bot",
                    "reason": "low_confidence",
                    "parts": {},
                    "messages": [],
                    "status": status,
                }
            )
    async with db.engine.begin() as conn:
        for table, values in rows.items():
            await conn.execute(sa.insert(table), values)


async def _ids(db: Database, table: sa.Table, key: str) -> set[str]:
    async with db.engine.connect() as conn:
        return set((await conn.execute(sa.select(table.c[key]))).scalars())


LIMITS = RetentionConfig(
    request_log_days=30,
    shadow_results_days=7,
    canary_runs_days=90,
    feedback_days=365,
    reviews_days=1,
    batch_rows=2,  # several batches per kind
)


async def test_prune_deletes_exactly_what_is_older_than_each_limit(db: Database) -> None:
    await _fill(db)
    expected = {
        "request_log": 3,  # 31, 60, 400 days
        "shadow_results": 4,  # 29 days and older
        "canary_runs": 1,  # 400 days
        "feedback": 1,
        "reviews": 5,  # the approved ones older than a day; every pending one stays
    }
    assert await count_expired(db, LIMITS, NOW) == expected
    assert await prune(db, LIMITS, NOW) == expected

    assert await _ids(db, request_log, "request_id") == {"req-0", "req-1", "req-2"}
    assert await _ids(db, shadow_results, "request_id") == {"sh-0", "sh-1"}
    assert await _ids(db, canary_runs, "run_id") == {f"run-{i}" for i in range(5)}
    # The old run's trials went with it.
    assert await _ids(db, canary_trials, "run_id") == {f"run-{i}" for i in range(5)}
    assert await _ids(db, feedback, "feedback_id") == {f"fb-{i}" for i in range(5)}
    assert await _ids(db, incident_events, "event_id") == {f"inc-{i}" for i in range(6)}  # no limit: all kept
    assert await _ids(db, reviews, "review_id") == {f"rv-pending-{i}" for i in range(6)} | {"rv-approved-0"}

    assert await count_expired(db, LIMITS, NOW) == dict.fromkeys(expected, 0)
    assert await prune(db, LIMITS, NOW) == dict.fromkeys(expected, 0)


async def test_without_limits_nothing_is_touched(db: Database) -> None:
    await _fill(db)
    assert RetentionConfig().limits() == {}
    assert await prune(db, RetentionConfig(), NOW + 1000 * DAY_S) == {}
    assert len(await _ids(db, request_log, "request_id")) == len(AGES_DAYS)


async def test_one_replica_prunes_each_round(tmp_path: Path) -> None:
    db = await open_database(f"sqlite:///{tmp_path}/keel.db")
    try:
        await _fill(db)
        clock = ManualClock(wall=NOW)
        shared = MemoryHotStore(clock)
        config = RetentionConfig(request_log_days=30, every_s=3600)
        deleted: list[tuple[str, int]] = []
        first = Pruner(db, lambda: config, shared, clock, on_deleted=lambda kind, rows: deleted.append((kind, rows)))
        second = Pruner(db, lambda: config, shared, clock)

        assert await first.round() == {"request_log": 3}
        assert await second.round() is None  # the round was the first replica's
        assert deleted == [("request_log", 3)]

        clock.advance(3600)
        await SqlRequestLogStore(db).write_batch([make_record(99, request_id="late", ts=_ts(45))])
        assert await second.round() == {"request_log": 1}
        assert await first.round() is None
        assert await Pruner(db, RetentionConfig, shared, clock).round() is None  # no limits: no round at all
    finally:
        await db.aclose()


@pytest.mark.parametrize("field", ["request_log_days", "reviews_days"])
def test_a_limit_under_a_day_is_refused(field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        RetentionConfig.model_validate({field: 0.5})


async def _requests_aged(tmp_path: Path, ages_days: list[float]) -> None:
    """Requests ``r0``, ``r1``, … that many days before the real now (commands prune against the real clock)."""
    now = time.time()
    db = await open_database(f"sqlite:///{tmp_path}/keel.db")
    try:
        records = [make_record(i, request_id=f"r{i}", ts=now - age * DAY_S) for i, age in enumerate(ages_days)]
        await SqlRequestLogStore(db).write_batch(records)
    finally:
        await db.aclose()


def _config(tmp_path: Path, retention: dict[str, Any] | None) -> Path:
    storage: dict[str, Any] = {"database_url": f"sqlite:///{tmp_path}/keel.db", "data_dir": str(tmp_path / "data")}
    if retention is not None:
        storage["retention"] = retention
    path = tmp_path / "keel.yaml"
    path.write_text(json.dumps({"version": 1, "storage": storage}))
    return path


def test_keel_prune_counts_then_deletes(tmp_path: Path) -> None:
    asyncio.run(_requests_aged(tmp_path, [1, 40, 50]))
    config = str(_config(tmp_path, {"request_log_days": 30}))
    runner = CliRunner()

    dry = runner.invoke(app, ["prune", "--config", config, "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.output) == {"dry_run": True, "rows": {"request_log": 2}}
    done = runner.invoke(app, ["prune", "--config", config])
    assert done.exit_code == 0, done.output
    assert "request_log" in done.output and "deleted" in done.output
    again = runner.invoke(app, ["prune", "--config", config, "--json"])
    assert json.loads(again.output) == {"dry_run": False, "rows": {"request_log": 0}}

    nothing = runner.invoke(app, ["prune", "--config", str(_config(tmp_path, None))])
    assert nothing.exit_code == 0 and "nothing to prune" in nothing.output


def test_keel_prune_names_a_bad_limit_in_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["prune", "--config", str(_config(tmp_path, {"request_log_days": -3}))])
    assert result.exit_code == 1
    assert "storage.retention.request_log_days" in result.output
    assert "Traceback" not in result.output


async def test_a_running_gateway_prunes_when_it_starts_and_counts_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _requests_aged(tmp_path, [1, 40, 50])
    monkeypatch.chdir(tmp_path)
    path = _config(tmp_path, {"request_log_days": 30})
    runtime = Runtime(load_config(path), path)
    await runtime.start()
    try:
        for _ in range(200):
            if [r.request_id for r in await runtime.request_log.recent(10)] == ["r0"]:
                break
            await asyncio.sleep(0.02)
        assert [r.request_id for r in await runtime.request_log.recent(10)] == ["r0"]
        deleted = runtime.metrics.registry.get_sample_value("keel_retention_deleted_total", {"kind": "request_log"})
        assert deleted == 2
    finally:
        await runtime.aclose()
