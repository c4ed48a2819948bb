"""Canary history in the SQL store, on SQLite and PostgreSQL: round trips, ordering, limits."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from keel.canary.assertions import AssertionOutcome
from keel.canary.flaky import history_report
from keel.canary.runner import SuiteRun, Trial
from keel.canary.store import MAX_STORED_ANSWER, SqlCanaryStore
from keel.canary.suite import Target
from keel.store.sql import Database
from tests.store import conftest as store_fixtures

# A fresh database per test, on SQLite and on PostgreSQL (a schema of its own).
db_target = store_fixtures.db_target
db = store_fixtures.db

T0 = 1_700_000_000.125


def suite_run(n: int, suite: str = "support", *, passes: tuple[bool, ...] = (True, False)) -> SuiteRun:
    trials = tuple(
        Trial(
            test_id="refund" if repeat < 2 else "tone",
            repeat=repeat % 2,
            passed=passed,
            latency_ms=123.456 + repeat,
            error=None if passed else "UpstreamTimeout: no answer in 30 s",
            answer="You have 30 days. \u2603" if passed else None,
            deployment="mini-east" if passed else None,
            outcomes=(
                AssertionOutcome(True, "'30 days' is in the answer", "contains"),
                AssertionOutcome(passed, "judge score 4/5 (min 4): polite", "judge"),
            )
            if passed
            else (),
        )
        for repeat, passed in enumerate(passes)
    )
    return SuiteRun(
        run_id=f"canary_{suite}_{n:04d}",
        suite=suite,
        target=Target(route="support-bot") if n % 2 else Target(deployment="candidate"),
        suite_digest="abc123",
        trigger="schedule",
        started_at=T0 + 60 * n,
        finished_at=T0 + 60 * n + 2.5,
        alert_below=0.9,
        trials=trials,
    )


async def test_a_run_reads_back_as_recorded(db: Database) -> None:
    store = SqlCanaryStore(db)
    run = suite_run(1, passes=(True, False, True, True))
    await store.record(run)
    assert await store.runs("support") == [run]
    assert await store.latest("support") == run
    again = await store.latest("support")
    assert again is not None
    assert (again.pass_rate, again.alert) == (0.75, True)


async def test_runs_are_newest_first_per_suite_and_limited(db: Database) -> None:
    store = SqlCanaryStore(db)
    for n in (3, 1, 4, 2):
        await store.record(suite_run(n))
    await store.record(suite_run(9, suite="billing"))
    runs = await store.runs("support")
    assert [r.run_id for r in runs] == [f"canary_support_{n:04d}" for n in (4, 3, 2, 1)]
    assert [r.run_id for r in await store.runs("support", limit=2)] == ["canary_support_0004", "canary_support_0003"]
    assert [r.run_id for r in await store.runs("billing")] == ["canary_billing_0009"]
    assert await store.runs("nothing") == []
    assert await store.latest("nothing") is None
    # Each run keeps its own trials.
    assert all(r.trials == suite_run(1).trials for r in runs)
    assert [r.target.kind for r in runs] == ["deployment", "route", "deployment", "route"]


async def test_history_reads_from_the_store(db: Database) -> None:
    store = SqlCanaryStore(db)
    await store.record(suite_run(1, passes=(True, True, True, True)))
    await store.record(suite_run(2, passes=(True, True, False, False)))
    await store.record(suite_run(3, passes=(True, True, True, True)))
    refund, tone = history_report(await store.runs("support"))
    assert (refund.test_id, refund.verdicts, refund.flaky) == ("refund", ("pass", "pass", "pass"), False)
    assert (tone.test_id, tone.verdicts, tone.flaky) == ("tone", ("pass", "fail", "pass"), True)


async def test_long_answers_are_cut(db: Database) -> None:
    store = SqlCanaryStore(db)
    long = Trial("refund", 0, True, 1.0, answer="x" * (MAX_STORED_ANSWER + 500))
    run = SuiteRun("canary_long", "support", Target(route="bot"), "d", "manual", T0, T0, 1.0, (long,))
    await store.record(run)
    stored = await store.latest("support")
    assert stored is not None
    assert stored.trials[0].answer == "x" * MAX_STORED_ANSWER


async def test_a_run_id_is_recorded_once(db: Database) -> None:
    store = SqlCanaryStore(db)
    await store.record(suite_run(1))
    with pytest.raises(sa.exc.IntegrityError):
        await store.record(suite_run(1))
    assert len(await store.runs("support")) == 1
