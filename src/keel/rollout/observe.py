"""What a rollout's traffic says about each side: request-log rows and canary trials as window statistics.

A window holds the requests that *completed* in it (arrival plus latency). Counting them by arrival
would leave out the slow requests that arrived near a window's end and were still running when it
was read, and make a slow candidate look quick. A request counts on the side it was assigned to
(``rollout_side`` in the request log), whatever the weight was when it arrived. It succeeded
when its status is below 500 *and* its own side answered it: a candidate request that failed over to
a live deployment is a candidate failure, whatever the caller got. Its output failed a validator when
an output guard asked for a retry or a fallback, or blocked the answer. Feedback is joined to the
request it scores (the mean, when a request has several).

Golden-canary trials count towards ``canary_pass_rate`` only: a suite aimed at the live or the
candidate deployment counts on that side, and a suite aimed at the route counts on the side of the
deployment that answered each trial (its requests are already in the log as ordinary requests).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from keel.rollout.analysis import Observation, Side, Window, WindowStats
from keel.rollout.machine import RolloutState
from keel.store.sql import Database
from keel.store.tables import canary_runs, canary_trials, feedback, request_log

VALIDATOR_FAILURES = frozenset({"retry", "fallback", "block"})
"""Output-guard actions that mean the answer as the model gave it was not good enough."""


class SqlObserver:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def observe(
        self, state: RolloutState, live_deployments: Sequence[str], live: Window, candidate: Window
    ) -> tuple[WindowStats, WindowStats]:
        """The (live, candidate) statistics of the rollout over each side's window."""
        stats: dict[Side, WindowStats] = {"live": WindowStats(), "candidate": WindowStats()}
        spans: tuple[tuple[Side, Window], ...] = (("live", live), ("candidate", candidate))
        deployments = (*live_deployments, state.candidate)
        async with self._db.engine.connect() as conn:
            for side, window in spans:
                for row in await conn.execute(_requests(state.rollout_id, side, window)):
                    stats[side].add(to_observation(side, state.candidate, row._mapping))
                for row in await conn.execute(_canary_trials(state.route, deployments, window)):
                    m = row._mapping
                    answered = canary_side(
                        m["target_kind"], m["target_name"], m["deployment"], state.candidate, live_deployments
                    )
                    if answered == side:
                        stats[side].add_canary_run(bool(m["passed"]))
        return stats["live"], stats["candidate"]


def to_observation(side: Side, candidate: str, row: Mapping[Any, Any]) -> Observation:
    """One request-log row (with its mean ``feedback_score``) as evidence about its side."""
    answered_by_own_side = (row["deployment"] == candidate) == (side == "candidate")
    verdicts = row["guard_verdicts"] or ()
    score = row["feedback_score"]
    return Observation(
        side=side,
        ok=row["status"] < 500 and answered_by_own_side,
        latency_ms=float(row["latency_ms"]),
        cost_usd=None if row["cost_usd"] is None else float(row["cost_usd"]),
        validator_failed=any(v.get("stage") == "output" and v.get("action") in VALIDATOR_FAILURES for v in verdicts),
        feedback_score=None if score is None else float(score),
    )


def canary_side(
    target_kind: str, target_name: str, answered_by: str | None, candidate: str, live_deployments: Sequence[str]
) -> Side | None:
    """The side a canary trial speaks for, or None when it speaks for neither."""
    deployment = target_name if target_kind == "deployment" else answered_by
    if deployment == candidate:
        return "candidate"
    return "live" if deployment in live_deployments else None


def _requests(rollout_id: str, side: Side, window: Window) -> sa.Select[Any]:
    score = (
        sa.select(sa.func.avg(feedback.c.score))
        .where(feedback.c.request_id == request_log.c.request_id)
        .scalar_subquery()
    )
    completed = request_log.c.ts + request_log.c.latency_ms / 1000.0
    return sa.select(
        request_log.c.status,
        request_log.c.deployment,
        request_log.c.latency_ms,
        request_log.c.cost_usd,
        request_log.c.guard_verdicts,
        score.label("feedback_score"),
    ).where(
        request_log.c.rollout_id == rollout_id,
        request_log.c.rollout_side == side,
        completed >= window.start,
        completed < window.end,
    )


def _canary_trials(route: str, deployments: Sequence[str], window: Window) -> sa.Select[Any]:
    runs = canary_runs.c
    aimed_here = sa.or_(
        sa.and_(runs.target_kind == "route", runs.target_name == route),
        sa.and_(runs.target_kind == "deployment", runs.target_name.in_(deployments)),
    )
    return (
        sa.select(runs.target_kind, runs.target_name, canary_trials.c.deployment, canary_trials.c.passed)
        .select_from(canary_runs.join(canary_trials, canary_trials.c.run_id == runs.run_id))
        .where(aimed_here, runs.started_at >= window.start, runs.started_at < window.end)
    )
