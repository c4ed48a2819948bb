"""Alert rules: the pure machine, signals from the request log, and one notification per change across replicas."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp import web

import tests.store.conftest as store_fixtures
from keel.hot.memory import MemoryHotStore
from keel.monitor.alerts import WebhookNotifier
from keel.monitor.rules.config import AlertRule
from keel.monitor.rules.evaluator import RuleEvaluator
from keel.monitor.rules.machine import RuleState, step
from keel.monitor.rules.signals import SqlSignals
from keel.store.sql import Database
from keel.store.sql_request_log import SqlRequestLogStore
from tests.clocks import ManualClock
from tests.conftest import ServerThread
from tests.store.conftest import make_record

db_target = store_fixtures.db_target
db = store_fixtures.db

ERRORS = AlertRule(name="errors", signal="error_rate", route="bot", window_s=60, above=0.2, for_s=30, min_samples=5)


def test_the_condition_must_hold_for_its_duration_and_fires_once() -> None:
    state, event = step(RuleState(), ERRORS, 0.5, 100.0)
    assert (state.phase, event) == ("pending", None)
    state, event = step(state, ERRORS, 0.4, 120.0)
    assert (state.phase, event) == ("pending", None)
    state, event = step(state, ERRORS, 0.3, 130.0)
    assert (state.phase, event, state.since) == ("firing", "fire", 100.0)
    state, event = step(state, ERRORS, 0.9, 160.0)
    assert (state.phase, event) == ("firing", None)
    state, event = step(state, ERRORS, 0.1, 190.0)
    assert (state.phase, event) == ("ok", "resolve")


def test_a_dip_restarts_the_wait_and_no_data_changes_nothing() -> None:
    state, _ = step(RuleState(), ERRORS, 0.5, 100.0)
    state, event = step(state, ERRORS, 0.1, 110.0)
    assert (state.phase, event) == ("ok", None)
    state, _ = step(state, ERRORS, 0.5, 120.0)
    assert state.since == 120.0
    firing = RuleState("firing", 50.0, 0.9)
    assert step(firing, ERRORS, None, 200.0) == (firing, None)
    below = AlertRule(name="sat", signal="feedback_score", below=0.7)
    assert step(RuleState(), below, 0.5, 0.0)[1] == "fire"


def test_a_rule_needs_exactly_one_bound() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        AlertRule(name="x", signal="requests")
    with pytest.raises(ValueError, match="exactly one"):
        AlertRule(name="x", signal="requests", above=1, below=2)


async def test_signals_come_from_the_request_log(db: Database) -> None:
    now = 1_700_000_100.0
    records = [make_record(i, route="bot", status=500 if i % 4 == 0 else 200, latency_ms=float(i)) for i in range(40)]
    records += [make_record(100 + i, route="other", status=500) for i in range(5)]
    records += [make_record(200, route="bot", error_code="guard_blocked", status=400, cost_usd=0.25)]
    await SqlRequestLogStore(db).write_batch(records)
    signals = SqlSignals(db)

    def rule(signal: str, **extra: Any) -> AlertRule:
        return AlertRule(name="r", signal=signal, route="bot", window_s=1000, above=0, **extra)  # type: ignore[arg-type]

    assert await signals.value(rule("requests"), now) == 40  # the record at +200 s is after now
    assert await signals.value(rule("error_rate"), now) == pytest.approx(10 / 40)
    assert await signals.value(rule("p99_latency_ms"), now) == 39.0
    assert await signals.value(rule("error_rate", min_samples=41), now) is None
    assert await signals.value(rule("guard_blocks"), now + 200) == 1
    assert await signals.value(rule("cost_usd"), now + 200) == pytest.approx(0.25)


async def test_two_replicas_send_each_fire_and_resolve_once(db: Database) -> None:
    received: list[dict[str, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append({"path": request.path, **(await request.json())})
        return web.json_response({})

    def app() -> web.Application:
        application = web.Application()
        application.router.add_post("/plain", hook)
        application.router.add_post("/slack", hook)
        return application

    log = SqlRequestLogStore(db)
    clock = ManualClock(wall=1_700_000_000.0)
    hot = MemoryHotStore(clock)  # one shared store: what Redis is to real replicas
    rule = AlertRule(name="errors", signal="error_rate", route="bot", window_s=60, above=0.2, min_samples=5)
    with ServerThread(app) as server:
        async with aiohttp.ClientSession() as session:
            notifier = WebhookNotifier(session, lambda: [f"{server.url}/plain"], lambda: [f"{server.url}/slack"])
            replicas = [
                RuleEvaluator(lambda: [rule], lambda: 10.0, SqlSignals(db), hot, notifier, clock) for _ in range(2)
            ]

            async def tick_all() -> list[bool]:
                return [await replica.tick() for replica in replicas]

            await log.write_batch([make_record(i, route="bot", ts=clock.now() - 30, status=500) for i in range(10)])
            assert await tick_all() == [True, False], "one replica evaluates each tick"
            clock.advance(10)
            assert await tick_all() == [True, False]
            clock.advance(61)  # the failures leave the window; fresh successes come in
            await log.write_batch([make_record(100 + i, route="bot", ts=clock.now() - 5) for i in range(10)])
            await tick_all()
            await notifier.aclose()
    kinds = sorted((r["path"], r.get("kind"), r["text"].split(" ")[0]) for r in received)
    assert kinds == [
        ("/plain", "alert_firing", "[warning]"),
        ("/plain", "alert_resolved", "errors"),
        ("/slack", None, ":rotating_light:"),
        ("/slack", None, ":white_check_mark:"),
    ]
    firing = next(r for r in received if r.get("kind") == "alert_firing")
    assert firing["rule"] == "errors" and firing["value"] == 1.0 and firing["route"] == "bot"
