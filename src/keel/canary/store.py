"""Canary history over a ``Database``: every suite execution with each of its trials.

A run row carries its tallies (trials, passed, pass rate, alert) as well as the trials themselves, so
dashboards can chart pass rates without reading every trial. Answers are kept for diagnosis, cut to
``MAX_STORED_ANSWER`` characters; they reach the store through the route's output guards, as any
answer Keel serves does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row

from keel.canary.assertions import AssertionOutcome
from keel.canary.runner import SuiteRun, Trial
from keel.canary.suite import Target
from keel.store.sql import Database
from keel.store.tables import canary_runs, canary_trials

MAX_STORED_ANSWER = 4000


class SqlCanaryStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, run: SuiteRun) -> None:
        async with self._db.engine.begin() as conn:
            await conn.execute(sa.insert(canary_runs).values(**_run_row(run)))
            if run.trials:
                rows = [_trial_row(run.run_id, position, trial) for position, trial in enumerate(run.trials)]
                await conn.execute(sa.insert(canary_trials), rows)

    async def runs(self, suite: str, limit: int = 20) -> list[SuiteRun]:
        """The suite's latest executions, newest first."""
        query = (
            sa.select(canary_runs)
            .where(canary_runs.c.suite == suite)
            .order_by(canary_runs.c.started_at.desc(), canary_runs.c.run_id.desc())
            .limit(limit)
        )
        async with self._db.engine.connect() as conn:
            run_rows = (await conn.execute(query)).all()
            if not run_rows:
                return []
            ids = [row._mapping["run_id"] for row in run_rows]
            trial_query = (
                sa.select(canary_trials)
                .where(canary_trials.c.run_id.in_(ids))
                .order_by(canary_trials.c.run_id, canary_trials.c.position)
            )
            trials: dict[str, list[Trial]] = {run_id: [] for run_id in ids}
            for row in await conn.execute(trial_query):
                trials[row._mapping["run_id"]].append(_trial(row))
        return [_run(row, trials[row._mapping["run_id"]]) for row in run_rows]

    async def latest(self, suite: str) -> SuiteRun | None:
        found = await self.runs(suite, limit=1)
        return found[0] if found else None


def _run_row(run: SuiteRun) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "suite": run.suite,
        "target_kind": run.target.kind,
        "target_name": run.target.name,
        "suite_digest": run.suite_digest,
        "trigger": run.trigger,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "alert_below": run.alert_below,
        "trials": len(run.trials),
        "passed": run.passed,
        "pass_rate": run.pass_rate,
        "alert": run.alert,
    }


def _trial_row(run_id: str, position: int, trial: Trial) -> dict[str, Any]:
    answer = trial.answer[:MAX_STORED_ANSWER] if trial.answer is not None else None
    return {
        "run_id": run_id,
        "position": position,
        "test_id": trial.test_id,
        "repeat_index": trial.repeat,
        "passed": trial.passed,
        "latency_ms": trial.latency_ms,
        "error": trial.error,
        "answer": answer,
        "deployment": trial.deployment,
        "outcomes": [{"kind": o.kind, "passed": o.passed, "detail": o.detail} for o in trial.outcomes],
    }


def _run(row: Row[Any], trials: Sequence[Trial]) -> SuiteRun:
    m = row._mapping
    return SuiteRun(
        run_id=m["run_id"],
        suite=m["suite"],
        target=Target.model_validate({m["target_kind"]: m["target_name"]}),
        suite_digest=m["suite_digest"],
        trigger=m["trigger"],
        started_at=m["started_at"],
        finished_at=m["finished_at"],
        alert_below=m["alert_below"],
        trials=tuple(trials),
    )


def _trial(row: Row[Any]) -> Trial:
    m = row._mapping
    return Trial(
        test_id=m["test_id"],
        repeat=m["repeat_index"],
        passed=m["passed"],
        latency_ms=m["latency_ms"],
        error=m["error"],
        answer=m["answer"],
        deployment=m["deployment"],
        outcomes=tuple(AssertionOutcome(o["passed"], o["detail"], o["kind"]) for o in m["outcomes"]),
    )
