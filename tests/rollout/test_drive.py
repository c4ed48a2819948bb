"""Whole rollouts driven through the request path onto simulated deployments, with a manual clock.

Each interval, callers send chat requests through real stages (the rollout stage in front of route
choice and the upstream call); their records go to the request log, and the analysis at the end of
the interval reads them back. A worse candidate is rolled back, a better one promoted; callers keep
their side; a restarted process carries a rollout on from the database. The last test drives a real
``Runtime`` through the admin API and its full pipeline.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestServer

from keel.core.context import RequestContext
from keel.monitor.alerts import WebhookNotifier
from keel.providers.transport import HttpClient
from keel.rollout import machine
from keel.rollout.machine import RolloutState
from keel.rollout.store import SqlRolloutStore
from keel.server.app import build_app
from keel.services.runtime import Runtime, load_config
from keel.store.records import RequestRecord
from keel.store.sql import Database
from tests.clocks import ManualClock
from tests.rollout import test_stage as stage
from tests.rollout.factories import T0, verdict
from tests.rollout.test_stage import ROLLOUT, ROUTE, Rig, Webhook, make_config, raw_config

db = stage.db
session = stage.session
upstream = stage.upstream
webhook = stage.webhook
clock = stage.clock

WORSE = "sim:ttft=2,fault=server_error:0.5"
BETTER = "sim:ttft=1"
LIVE = "sim:ttft=40"
USERS = [f"user-{i}" for i in range(300)]


async def interval(rig: Rig, clock: ManualClock, k: int, users: Sequence[str]) -> list[RequestContext]:
    """Traffic inside the k-th interval (from ``T0 + 60 k``), then the analysis of its end."""
    clock.wall = T0 + 60 * k + 10
    contexts = await rig.traffic(users)
    clock.wall = T0 + 60 * (k + 1) + 5  # the window is read once it has settled
    await rig.service.analyse_due()
    return contexts


async def begin(rig: Rig, clock: ManualClock) -> RolloutState:
    """Start at ``T0``; the first analysis, a minute in, enters the first step."""
    clock.wall = T0
    await rig.service.start_rollout(ROUTE)
    clock.wall = T0 + 65
    await rig.service.analyse_due()
    return _current(rig)


def _current(rig: Rig) -> RolloutState:
    state = rig.board.for_route(ROUTE)
    assert state is not None
    return state


def _events(state: RolloutState) -> list[tuple[str, float]]:
    return [(e.kind, e.ts - T0) for e in state.history]


def _sides(contexts: Sequence[RequestContext]) -> dict[str, str | None]:
    """Each caller's side."""
    return {c.body["user"]: c.rollout_side for c in contexts if c.body is not None}


@pytest.fixture
async def alerts(session: aiohttp.ClientSession, webhook: tuple[Webhook, str]) -> AsyncIterator[WebhookNotifier]:
    notifier = WebhookNotifier(session, lambda: [webhook[1]])
    yield notifier
    await notifier.aclose()


async def test_a_worse_candidate_is_rolled_back_after_max_failed_checks(
    tmp_path: Path,
    db: Database,
    upstream: HttpClient,
    clock: ManualClock,
    alerts: WebhookNotifier,
    webhook: tuple[Webhook, str],
) -> None:
    rig = Rig(make_config(tmp_path, live=LIVE, candidate=WORSE), db, upstream, clock, notifier=alerts)
    assert (await begin(rig, clock)).weight == 10
    first = await interval(rig, clock, 1, USERS)
    assert {c.rollout_side for c in first} == {"live", "candidate"}
    assert all(c.status == 200 for c in first if c.rollout_side == "live")
    after_one = _current(rig)
    assert (after_one.phase, after_one.weight, after_one.failed_checks) == ("progressing", 10, 1)
    await interval(rig, clock, 2, USERS)

    state = _current(rig)
    assert (state.phase, state.weight) == ("rolled_back", 0)
    failed_twice = [("check_failed", 120), ("check_failed", 180), ("rolled_back", 180)]
    assert _events(state) == [("created", 0), ("step", 60), *failed_twice], state.history
    assert all("check error_rate failed" in e.detail for e in state.history if e.kind == "check_failed")
    assert state.history[-1].detail == "rolled back at 10% after 2 failed analyses in a row; all traffic to live live"
    await alerts.aclose()
    assert [(a["event"], a["weight"]) for a in webhook[0].received] == [("rolled_back", 0)]

    after = await interval(rig, clock, 3, USERS[:50])
    assert {(c.rollout_id, c.deployment.name if c.deployment else None) for c in after} == {(None, "live")}


async def test_a_better_candidate_is_promoted_after_the_last_step(
    tmp_path: Path,
    db: Database,
    upstream: HttpClient,
    clock: ManualClock,
    alerts: WebhookNotifier,
    webhook: tuple[Webhook, str],
) -> None:
    rig = Rig(make_config(tmp_path, live=LIVE, candidate=BETTER), db, upstream, clock, notifier=alerts)
    await begin(rig, clock)
    weights = []
    for k in (1, 2, 3):
        served = await interval(rig, clock, k, USERS)
        assert all(c.status == 200 for c in served)
        weights.append(_current(rig).weight)
    assert weights == [50, 100, 100]

    state = _current(rig)
    assert _events(state) == [("created", 0), ("step", 60), ("step", 120), ("step", 180), ("promoted", 240)], (
        state.history
    )
    await alerts.aclose()
    [alert] = webhook[0].received
    assert alert["event"] == "promoted"
    assert alert["text"] == f"rollout of cand on route {ROUTE}: promoted: cand serves all traffic of route {ROUTE}"

    after = await interval(rig, clock, 4, USERS[:50])  # promoted: the candidate keeps the whole route
    assert {(c.rollout_side, c.deployment.name if c.deployment else None) for c in after} == {("candidate", "cand")}


async def test_a_caller_stays_on_its_side_and_only_moves_to_the_candidate(
    tmp_path: Path, db: Database, upstream: HttpClient, clock: ManualClock
) -> None:
    rig = Rig(make_config(tmp_path, live=LIVE, candidate=BETTER), db, upstream, clock)
    await begin(rig, clock)
    clock.wall = T0 + 70
    at_10 = _sides(await rig.traffic(USERS))
    at_10_again = _sides(await rig.traffic(USERS))
    clock.wall = T0 + 125
    await rig.service.analyse_due()
    assert _current(rig).weight == 50
    at_50 = _sides(await rig.traffic(USERS))

    assert at_10 == at_10_again
    on_candidate_at_10 = {u for u, side in at_10.items() if side == "candidate"}
    on_candidate_at_50 = {u for u, side in at_50.items() if side == "candidate"}
    assert on_candidate_at_10 < on_candidate_at_50
    assert 10 <= len(on_candidate_at_10) <= 55 and 110 <= len(on_candidate_at_50) <= 190


@pytest.mark.parametrize("candidate", [BETTER, WORSE])
async def test_a_restarted_process_carries_the_rollout_on_from_the_database(
    tmp_path: Path, db: Database, upstream: HttpClient, candidate: str
) -> None:
    config = make_config(tmp_path, live=LIVE, candidate=candidate)
    before = ManualClock(T0)
    first = Rig(config, db, upstream, before)
    await begin(first, before)
    await interval(first, before, 1, USERS)
    sides = _sides(await first.traffic(USERS))  # at the weight the first analysis left
    saved = _current(first)
    del first  # the process is gone: nothing of it is used again

    after = ManualClock(before.wall)
    second = Rig(config, db, upstream, after)
    await second.board.start()  # loads what the database holds, as at start-up
    try:
        assert second.board.for_route(ROUTE) == saved
        assert _sides(await second.traffic(USERS)) == sides  # the same callers on the same sides
        for k in (2, 3):
            await interval(second, after, k, USERS)
    finally:
        await second.board.aclose()

    state = _current(second)
    if candidate == BETTER:
        assert (saved.weight, saved.failed_checks) == (50, 0)
        expected = [("created", 0), ("step", 60), ("step", 120), ("step", 180), ("promoted", 240)]
    else:
        assert (saved.weight, saved.failed_checks) == (10, 1)
        expected = [("created", 0), ("step", 60), ("check_failed", 120), ("check_failed", 180), ("rolled_back", 180)]
    assert _events(state) == expected, state.history


async def test_the_admin_api_and_the_full_pipeline_of_a_runtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, session: aiohttp.ClientSession
) -> None:
    monkeypatch.setenv("KEEL_ADMIN_KEY", "sk-admin-rollouts")
    monkeypatch.setenv("KEEL_SECRET", "secret-for-rollout-tests")
    raw = raw_config(tmp_path, live=LIVE, candidate=BETTER)
    raw["auth"] = {"anonymous": {"routes": ["*"]}}
    raw["routes"]["team/bot"] = {"deployments": ["live"], "rollout": ROLLOUT}
    path = tmp_path / "keel.yaml"
    path.write_bytes(orjson.dumps(raw))
    runtime = Runtime(load_config(path), path)
    await runtime.start()
    admin = {"authorization": "Bearer sk-admin-rollouts"}
    try:
        async with TestServer(build_app(runtime)) as server:

            async def call(method: str, where: str, body: object = None) -> tuple[int, Any]:
                async with session.request(method, server.make_url(where), headers=admin, json=body) as resp:
                    return resp.status, await resp.json()

            status, started = await call("POST", f"/admin/rollouts/{ROUTE}/start")
            assert (status, started["phase"], started["candidate"], started["weight"]) == (201, "pending", "cand", 0)
            status, refused = await call("POST", f"/admin/rollouts/{ROUTE}/start")
            assert status == 409
            assert refused["error"]["type"] == "invalid_request_error"
            assert refused["error"]["code"] == "rollout_conflict"
            assert "already has an active rollout" in refused["error"]["message"]
            status, paused = await call("POST", f"/admin/rollouts/{ROUTE}/pause", {"reason": "hold on"})
            assert (status, paused["phase"]) == (200, "paused")
            assert paused["history"][-1]["detail"] == "paused at 0%: hold on"
            assert (await call("POST", f"/admin/rollouts/{ROUTE}/pause"))[0] == 409
            assert (await call("POST", f"/admin/rollouts/{ROUTE}/resume"))[1]["phase"] == "pending"
            assert (await call("POST", f"/admin/rollouts/{ROUTE}/abort", ["not", "an", "object"]))[0] == 400
            assert (await call("POST", "/admin/rollouts/plain/start"))[1]["error"]["code"] == "rollout_conflict"
            status, latest = await call("GET", f"/admin/rollouts/{ROUTE}")
            assert (status, [e["kind"] for e in latest["history"]]) == (200, ["created", "paused", "resumed"])
            assert (await call("GET", "/admin/rollouts/plain"))[0] == 404
            status, slashed = await call("POST", "/admin/rollouts/team/bot/start")
            assert (status, slashed["route"]) == (201, "team/bot")
            assert (await call("GET", "/admin/rollouts/team/bot"))[1]["id"] == slashed["id"]
            async with session.get(server.make_url("/admin/rollouts")) as resp:
                assert resp.status == 403  # the admin key only

            # Passing analyses would take the rollout to 100%; then ask through the runtime's own pipeline.
            full = await _at_full_weight(runtime, started["id"])
            await runtime.rollout_board.refresh()
            body = {"model": ROUTE, "user": "someone", "messages": [{"role": "user", "content": "hi"}]}
            async with session.post(server.make_url("/v1/chat/completions"), json=body) as resp:
                assert (resp.status, resp.headers["x-keel-deployment"]) == (200, "cand")
                request_id = resp.headers["x-request-id"]
            logged = await _logged(runtime, request_id)
            assert (logged.rollout_id, logged.rollout_side, logged.deployment) == (full.rollout_id, "candidate", "cand")

            status, aborted = await call("POST", f"/admin/rollouts/{ROUTE}/abort", {"reason": "done"})
            assert (status, aborted["phase"], aborted["version"]) == (200, "aborted", full.version + 1)
            status, listed = await call("GET", "/admin/rollouts")
            assert (status, {r["id"] for r in listed["data"]}) == (200, {started["id"], slashed["id"]})
    finally:
        await runtime.aclose()


async def _at_full_weight(runtime: Runtime, rollout_id: str) -> RolloutState:
    store = SqlRolloutStore(runtime.db)
    state = await store.get(rollout_id)
    config = runtime.snapshot.config.routes[ROUTE].config.rollout
    assert state is not None and config is not None
    while state.weight < 100:
        state = machine.on_analysis(state, config, verdict("pass"), state.history[-1].ts + 60)
    await store.save(state)
    return state


async def _logged(runtime: Runtime, request_id: str) -> RequestRecord:
    """The request's row, once the log writer has flushed it."""
    for _ in range(100):
        found = [r for r in await runtime.request_log.recent(20) if r.request_id == request_id]
        if found:
            return found[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"{request_id} never reached the request log")
