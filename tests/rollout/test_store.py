"""Rollout persistence on SQLite and PostgreSQL: round trips, stale writes refused, one active rollout per
route, and a rollout saved mid-way that a restarted process resumes exactly."""

from __future__ import annotations

import asyncio

import pytest

from keel.rollout.analysis import Verdict
from keel.rollout.config import RolloutConfig
from keel.rollout.machine import RolloutState, abort, on_analysis, pause, start
from keel.rollout.store import RolloutConflict, SqlRolloutStore
from keel.store.sql import Database
from tests.rollout.factories import T0, make_config, verdict
from tests.store import conftest as store_fixtures
from tests.store.conftest import DbTarget

# A fresh database per test, on SQLite and on PostgreSQL (a schema of its own).
db_target = store_fixtures.db_target
db = store_fixtures.db

CONFIG = make_config(step_interval_s=300, analysis_interval_s=60)


def _mid_rollout(route: str = "support-bot", config: RolloutConfig = CONFIG) -> RolloutState:
    """At 5%, with one failed analysis and an odd timestamp, so every field differs from a default."""
    state = start(config, route, "gpt-4o", "gpt-4o-mini", T0 + 0.123456789, rollout_id=f"ro_{route}")
    plan: list[tuple[int, Verdict]] = [(1, "pass"), (6, "pass"), (7, "fail")]
    for minute, kind in plan:
        state = on_analysis(state, config, verdict(kind), T0 + 60 * minute + 0.1)
    assert (state.weight, state.failed_checks) == (5, 1)
    return state


async def test_a_saved_state_reads_back_identically(db: Database) -> None:
    store = SqlRolloutStore(db)
    state = _mid_rollout()
    await store.save(state)
    assert await store.get(state.rollout_id) == state
    assert await store.get("ro_missing") is None
    assert await store.active_for("support-bot") == state
    assert await store.active_for("other-route") is None


async def test_later_states_update_and_resaving_is_a_no_op(db: Database) -> None:
    store = SqlRolloutStore(db)
    state = start(CONFIG, "bot", "gpt-4o", "gpt-4o-mini", T0)
    await store.save(state)
    await store.save(state)
    later = pause(on_analysis(state, CONFIG, verdict("pass"), T0 + 60), T0 + 61, reason="checking")
    await store.save(later)  # two transitions in one save
    assert await store.get(state.rollout_id) == later


async def test_a_state_that_does_not_descend_from_the_stored_one_is_refused(db: Database) -> None:
    store = SqlRolloutStore(db)
    base = _mid_rollout()
    await store.save(base)
    paused = pause(base, T0 + 500, reason="operator")
    advanced = on_analysis(base, CONFIG, verdict("fail"), T0 + 500)  # the loop, from the same base
    await store.save(paused)
    with pytest.raises(RolloutConflict, match="changed since it was read"):
        await store.save(advanced)
    with pytest.raises(RolloutConflict):
        await store.save(base)  # older than what is stored
    assert await store.get(base.rollout_id) == paused


async def test_concurrent_writers_from_one_base_leave_exactly_one_winner(db: Database) -> None:
    store = SqlRolloutStore(db)
    base = _mid_rollout()
    await store.save(base)
    rivals = [abort(base, T0 + 500, reason=f"replica {i}") for i in range(4)]
    outcomes = await asyncio.gather(*(store.save(s) for s in rivals), return_exceptions=True)
    assert sum(o is None for o in outcomes) == 1
    assert all(isinstance(o, RolloutConflict) for o in outcomes if o is not None)
    assert await store.get(base.rollout_id) in rivals


async def test_one_active_rollout_per_route(db: Database) -> None:
    store = SqlRolloutStore(db)
    first = start(CONFIG, "bot", "gpt-4o", "gpt-4o-mini", T0, rollout_id="ro_1")
    await store.save(first)
    second = start(CONFIG, "bot", "gpt-4o", "gpt-4o-mini", T0 + 1, rollout_id="ro_2")
    with pytest.raises(RolloutConflict, match="'bot' already has an active rollout, ro_1"):
        await store.save(second)
    await store.save(start(CONFIG, "other", "gpt-4o", "gpt-4o-mini", T0 + 2, rollout_id="ro_3"))

    await store.save(abort(first, T0 + 3, reason="wrong candidate"))
    assert await store.active_for("bot") is None
    await store.save(second)  # the route is free once its rollout is final
    assert (await store.active_for("bot")) == second
    assert [s.rollout_id for s in await store.active()] == ["ro_2", "ro_3"]


async def test_list_is_newest_first_with_a_limit_and_a_route_filter(db: Database) -> None:
    store = SqlRolloutStore(db)
    for i in range(5):
        state = start(CONFIG, f"route-{i % 2}", "gpt-4o", "gpt-4o-mini", T0 + i, rollout_id=f"ro_{i}")
        await store.save(abort(state, T0 + i + 0.5))
    assert [s.rollout_id for s in await store.list()] == ["ro_4", "ro_3", "ro_2", "ro_1", "ro_0"]
    assert [s.rollout_id for s in await store.list(limit=2)] == ["ro_4", "ro_3"]
    assert [s.rollout_id for s in await store.list(route="route-1")] == ["ro_3", "ro_1"]
    assert await store.active() == []


async def test_a_restarted_process_resumes_a_rollout_exactly(db_target: DbTarget) -> None:
    # From 5% (entered at minute 6): a pass, a halt, a resume that advances to 25%, then 50%.
    plan: list[tuple[int, Verdict]] = [(8, "pass"), (9, "no_data"), (12, "pass"), (20, "pass")]
    analyses = [(T0 + 60 * minute + 0.1, kind) for minute, kind in plan]
    saved = _mid_rollout()

    # What the rollout would have become had the process kept running.
    uninterrupted = saved
    for now, kind in analyses:
        uninterrupted = on_analysis(uninterrupted, CONFIG, verdict(kind), now)

    before = await db_target.open()
    try:
        await SqlRolloutStore(before).save(saved)
    finally:
        await before.aclose()

    after = await db_target.open()  # a new process: nothing in memory, the schema already migrated
    try:
        store = SqlRolloutStore(after)
        resumed = await store.active_for("support-bot")
        assert resumed == saved
        for now, kind in analyses:
            resumed = on_analysis(resumed, CONFIG, verdict(kind), now)
            await store.save(resumed)
        assert resumed == uninterrupted
        assert await store.get(saved.rollout_id) == uninterrupted
        assert (uninterrupted.phase, uninterrupted.weight) == ("progressing", 50)
    finally:
        await after.aclose()
