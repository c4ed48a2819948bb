"""The analysis loop and the operator's actions, on SQLite and PostgreSQL: what a window's traffic says
about each side, when a rollout is analysed (once per grid time, whoever analyses it), what happens
when the config stops declaring it, and which events reach the alert webhooks."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from keel.canary.runner import SuiteRun, Trial
from keel.canary.store import SqlCanaryStore
from keel.canary.suite import Target
from keel.core.clock import SystemClock
from keel.feedback.model import Feedback
from keel.monitor.alerts import WebhookNotifier
from keel.providers.transport import HttpClient
from keel.rollout.analysis import Side, Window
from keel.rollout.machine import RolloutError, start
from keel.rollout.observe import SqlObserver, canary_side, to_observation
from keel.rollout.service import SETTLE_S, RolloutService
from keel.rollout.store import RolloutConflict, SqlRolloutStore
from keel.store.records import RequestRecord
from keel.store.sql import Database
from keel.store.sql_feedback import SqlFeedbackStore
from keel.store.sql_request_log import SqlRequestLogStore
from tests.clocks import ManualClock
from tests.rollout import factories
from tests.rollout import test_stage as stage
from tests.rollout.factories import T0
from tests.rollout.test_stage import ROLLOUT, ROUTE, Rig, Webhook, make_config
from tests.store import conftest as store_fixtures

# Every test with a database runs on SQLite and on PostgreSQL; the rig comes from the stage tests.
db_target = store_fixtures.db_target
db = store_fixtures.db
session = stage.session
upstream = stage.upstream
webhook = stage.webhook
clock = stage.clock
rig = stage.rig


def _logged(n: int, side: str, deployment: str | None, **fields: Any) -> RequestRecord:
    values: dict[str, Any] = {
        "request_id": f"req-{side}-{n}",
        "ts": T0 + n,
        "endpoint": "chat.completions",
        "status": 200,
        "config_hash": "cfg",
        "route": ROUTE,
        "deployment": deployment,
        "latency_ms": 100.0 + n,
        "rollout_id": "ro_1",
        "rollout_side": side,
    }
    values.update(fields)
    return RequestRecord(**values)


def _canary_run(run_id: str, target: Target, at: float, *trials: tuple[bool, str | None]) -> SuiteRun:
    made = tuple(Trial("t", i, passed, 5.0, deployment=dep) for i, (passed, dep) in enumerate(trials))
    return SuiteRun(run_id, "support", target, "digest", "schedule", at, at + 1, 0.9, made)


async def test_a_window_of_traffic_becomes_each_sides_statistics(db: Database) -> None:
    retry = [{"guard": "json", "stage": "output", "action": "retry", "findings": []}]
    harmless = [
        {"guard": "pii", "stage": "input", "action": "block", "findings": []},
        {"guard": "tone", "stage": "output", "action": "flag", "findings": []},
    ]
    await SqlRequestLogStore(db).write_batch(
        [
            _logged(1, "candidate", "cand", cost_usd=0.002, guard_verdicts=retry),
            _logged(2, "candidate", "live"),  # failed over to live: a candidate failure
            _logged(3, "candidate", "cand", status=503),
            _logged(4, "candidate", "cand", latency_ms=300.0),
            _logged(5, "candidate", "cand", guard_verdicts=harmless, cost_usd=0.004),
            _logged(60, "candidate", "cand"),  # the window ends before it
            _logged(-1, "candidate", "cand", latency_ms=1500.0),  # arrived before the window, completed in it
            _logged(59, "candidate", "cand", latency_ms=1500.0),  # arrived in the window, completed after it
            _logged(6, "live", "live", cost_usd=0.001),
            _logged(7, "live", "live", status=500),
            _logged(8, "live", "cand"),  # a live request the candidate answered (say, a route fallback)
            _logged(9, "live", None),  # answered from safe mode
            _logged(10, "live", "live", rollout_id="ro_other"),
        ]
    )
    feedback = SqlFeedbackStore(db)
    for score in (0.5, 1.0):
        await feedback.add(Feedback("req-candidate-4", score, None, None, None))
    await feedback.add(Feedback("req-live-6", None, "wrong", None, None))  # a label without a score
    canaries = SqlCanaryStore(db)
    runs = [
        _canary_run("c1", Target(deployment="cand"), T0 + 5, (True, "cand"), (False, "cand")),
        _canary_run("c2", Target(deployment="live"), T0 + 5, (True, "live")),
        _canary_run("c3", Target(route=ROUTE), T0 + 5, (True, "cand"), (False, "live"), (False, None)),
        _canary_run("c4", Target(deployment="cand"), T0 + 60, (False, "cand")),  # after the window
        _canary_run("c5", Target(deployment="other"), T0 + 5, (False, "other")),
        _canary_run("c6", Target(route="other-route"), T0 + 5, (False, "cand")),
    ]
    for run in runs:
        await canaries.record(run)

    state = start(factories.make_config(candidate="cand"), ROUTE, "live", "cand", T0, rollout_id="ro_1")
    window = Window(T0, T0 + 60)
    live, candidate = await SqlObserver(db).observe(state, ("live",), window, window)

    assert (candidate.requests, candidate.errors) == (6, 2)
    assert sorted(candidate.latencies_ms) == [101.0, 105.0, 300.0, 1500.0]
    assert candidate.validator_failures == 1
    assert (candidate.costed_requests, candidate.cost_usd_sum) == (2, pytest.approx(0.006))
    assert (candidate.feedback_count, candidate.feedback_sum) == (1, pytest.approx(0.75))
    assert (candidate.canary_runs, candidate.canary_passes) == (3, 2)
    assert (live.requests, live.errors) == (4, 2)
    assert sorted(live.latencies_ms) == [106.0, 109.0]
    assert (live.costed_requests, live.cost_usd_sum, live.feedback_count) == (1, pytest.approx(0.001), 0)
    assert (live.canary_runs, live.canary_passes) == (2, 1)

    later = await SqlObserver(db).observe(state, ("live",), Window(T0 + 60, T0 + 120), window)
    assert (later[0].requests, later[1].requests) == (0, 6)  # each side is read over its own window


@pytest.mark.parametrize(
    ("side", "status", "deployment", "ok"),
    [
        ("candidate", 200, "cand", True),
        ("candidate", 200, "live", False),
        ("candidate", 502, "cand", False),
        ("candidate", 429, "cand", True),
        ("live", 200, "live", True),
        ("live", 200, "cand", False),
        ("live", 504, "live", False),
    ],
)
def test_a_request_is_ok_when_its_own_side_answered_below_500(
    side: Side, status: int, deployment: str, ok: bool
) -> None:
    row = {"status": status, "deployment": deployment, "latency_ms": 10, "cost_usd": None}
    observation = to_observation(side, "cand", {**row, "guard_verdicts": None, "feedback_score": None})
    assert observation.ok is ok


def test_a_canary_trial_speaks_for_the_side_of_its_target_or_of_who_answered() -> None:
    live = ("live", "live-eu")
    assert canary_side("deployment", "cand", None, "cand", live) == "candidate"
    assert canary_side("deployment", "live-eu", None, "cand", live) == "live"
    assert canary_side("route", ROUTE, "cand", "cand", live) == "candidate"
    assert canary_side("route", ROUTE, "live-eu", "cand", live) == "live"
    assert canary_side("route", ROUTE, None, "cand", live) is None


async def test_starting_is_refused_without_a_declared_rollout_or_with_one_active(rig: Rig) -> None:
    with pytest.raises(RolloutError, match="no route named 'nope'"):
        await rig.service.start_rollout("nope")
    with pytest.raises(RolloutError, match="route 'plain' declares no rollout"):
        await rig.service.start_rollout("plain")
    state = await rig.service.start_rollout(ROUTE)
    assert (state.phase, state.live, state.candidate, state.weight) == ("pending", "live", "cand", 0)
    assert rig.board.for_route(ROUTE) == state  # shown at once in this process
    with pytest.raises(RolloutConflict, match="already has an active rollout"):
        await rig.service.start_rollout(ROUTE)


async def test_operators_pause_resume_and_abort(rig: Rig, clock: ManualClock) -> None:
    with pytest.raises(RolloutError, match="has no active rollout"):
        await rig.service.pause(ROUTE)
    await rig.service.start_rollout(ROUTE)
    clock.advance(65)
    await rig.service.analyse_due()
    paused = await rig.service.pause(ROUTE, "checking the dashboards")
    assert (paused.phase, paused.weight) == ("paused", 10)
    assert paused.history[-1].detail == "paused at 10%: checking the dashboards"
    with pytest.raises(RolloutError, match="already paused"):
        await rig.service.pause(ROUTE)
    clock.advance(120)
    assert await rig.service.analyse_due() == []  # a paused rollout is not analysed
    resumed = await rig.service.resume(ROUTE)
    assert (resumed.phase, resumed.weight) == ("progressing", 10)
    aborted = await rig.service.abort(ROUTE, "wrong candidate")
    assert (aborted.phase, aborted.weight) == ("aborted", 0)
    assert rig.board.for_route(ROUTE) == aborted
    with pytest.raises(RolloutError, match="has no active rollout"):
        await rig.service.resume(ROUTE)
    assert await rig.store.get(aborted.rollout_id) == aborted


async def test_a_rollout_is_analysed_once_per_grid_time_after_it_settles(rig: Rig, clock: ManualClock) -> None:
    await rig.service.start_rollout(ROUTE)
    clock.advance(60 + SETTLE_S - 0.1)  # the first grid time is 60 s in; its window is read once settled
    assert await rig.service.analyse_due() == []
    clock.advance(0.1)
    [entered] = await rig.service.analyse_due()
    assert (entered.phase, entered.weight, entered.step_started_at) == ("progressing", 10, T0 + 60)
    assert await rig.service.analyse_due() == []  # this grid time is judged
    clock.advance(60)
    [halted] = await rig.service.analyse_due()  # no traffic reached the candidate
    assert (halted.phase, halted.history[-1].ts) == ("halted", T0 + 120)
    assert halted.history[-1].detail.startswith("halted at 10%: not enough data: error_rate: candidate has 0 of 10")
    clock.advance(180)
    assert await rig.service.analyse_due() == []  # still halted: nothing new to record


async def test_replicas_make_one_transition_per_grid_time(rig: Rig, clock: ManualClock, db: Database) -> None:
    other = RolloutService(SqlRolloutStore(db), SqlObserver(db), lambda: rig.config, clock=clock)
    await rig.service.start_rollout(ROUTE)
    clock.advance(65)
    for service in (rig.service, other):
        await service.analyse_due()  # the second must not judge 60 s again (it would halt at once)
    clock.advance(60)
    await asyncio.gather(rig.service.analyse_due(), other.analyse_due())  # both judge 120 s alike
    state = await rig.store.active_for(ROUTE)
    assert state is not None
    assert [(e.kind, e.ts) for e in state.history] == [("created", T0), ("step", T0 + 60), ("halted", T0 + 120)]


@pytest.mark.parametrize(
    ("rollout", "why"),
    [({}, "no longer declares it"), ({**ROLLOUT, "candidate": "emb"}, "now rolls out emb")],
)
async def test_a_rollout_the_config_no_longer_declares_is_aborted(
    rig: Rig, clock: ManualClock, rollout: dict[str, Any], why: str
) -> None:
    started = await rig.service.start_rollout(ROUTE)
    rig.config = make_config(rig.config.base_dir, rollout=rollout)
    clock.advance(1)
    [aborted] = await rig.service.analyse_due()
    assert (aborted.rollout_id, aborted.phase) == (started.rollout_id, "aborted")
    assert aborted.history[-1].detail == f"aborted at 0%: the config of route {ROUTE} {why}; all traffic to live live"
    assert await rig.store.active() == []


async def test_halts_are_sent_to_the_alert_webhooks(
    tmp_path: Path,
    db: Database,
    session: aiohttp.ClientSession,
    upstream: HttpClient,
    clock: ManualClock,
    webhook: tuple[Webhook, str],
) -> None:
    hook, url = webhook
    notifier = WebhookNotifier(session, lambda: [url])
    rig = Rig(make_config(tmp_path), db, upstream, clock, notifier=notifier)
    await rig.service.start_rollout(ROUTE)
    clock.advance(65)
    await rig.service.analyse_due()  # entering a step is not announced
    clock.advance(60)
    await rig.service.analyse_due()
    await notifier.aclose()
    [alert] = hook.received
    assert alert["kind"] == "rollout" and alert["event"] == "halted"
    assert alert["text"].startswith(f"rollout of cand on route {ROUTE}: halted at 10%: not enough data")
    assert (alert["route"], alert["phase"], alert["weight"]) == (ROUTE, "halted", 10)


def test_the_loop_wakes_at_the_shortest_analysis_interval_but_not_more_than_once_a_second(
    rig: Rig, tmp_path: Path
) -> None:
    assert rig.service.interval() == 60
    rig.config = make_config(tmp_path, rollout={**ROLLOUT, "analysis_interval_s": 0.25})
    assert rig.service.interval() == 1
    rig.config = make_config(tmp_path, rollout={})
    assert rig.service.interval() == 60  # nothing declared: only rollouts to abort are looked for


async def test_the_loop_runs_in_the_background(tmp_path: Path, db: Database, upstream: HttpClient) -> None:
    config = make_config(tmp_path, rollout={**ROLLOUT, "analysis_interval_s": 1})
    rig = Rig(config, db, upstream, SystemClock(), settle_s=0)
    await rig.service.start_rollout(ROUTE)
    rig.service.start()
    try:
        for _ in range(60):
            await asyncio.sleep(0.1)
            state = rig.board.for_route(ROUTE)
            if state is not None and state.phase != "pending":
                break
    finally:
        await rig.service.aclose()
    assert state is not None and (state.phase, state.weight) == ("progressing", 10)
