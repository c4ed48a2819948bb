"""Kill switches persist with who and why, one active per scope and target, on SQLite and PostgreSQL."""

from __future__ import annotations

from keel.control.kill_signal import KillSignal, KillWatch
from keel.control.kill_switches import KillBoard, new_switch
from keel.hot.memory import MemoryHotStore
from keel.services.control import AnnouncingStore
from keel.store.sql import Database
from keel.store.sql_kill_switches import SqlKillSwitchStore


async def test_set_replace_clear_and_history(db: Database) -> None:
    store = SqlKillSwitchStore(db)
    first = new_switch("route", "bot", "refuse", "bad answers", "ana", message="back soon")
    await store.add(first)
    second = new_switch("route", "bot", "safe_mode", "use the FAQ", "bo")
    await store.add(second)
    await store.add(new_switch("global", "ignored", "refuse", "freeze", "ops"))
    active = {(s.scope, s.target): s for s in await store.active()}
    assert set(active) == {("route", "bot"), ("global", "*")}
    assert active[("route", "bot")].switch_id == second.switch_id  # the newer replaced the older

    assert await store.clear("route", "bot", "cy", "fixed", at=first.created_at + 60) == 1
    assert await store.clear("route", "bot", "cy", "again", at=first.created_at + 61) == 0
    history = {s.switch_id: s for s in await store.history()}
    assert history[first.switch_id].cleared_reason == "replaced"
    cleared = history[second.switch_id]
    assert (cleared.cleared_by, cleared.cleared_reason, cleared.actor) == ("cy", "fixed", "bo")
    assert [(s.scope, s.target) for s in await store.active()] == [("global", "*")]


async def test_board_applies_at_once_and_sees_other_writers_on_refresh(db: Database) -> None:
    board = KillBoard(SqlKillSwitchStore(db))
    await board.refresh()
    assert board.for_request("key_1") is None
    await board.set(new_switch("key", "key_1", "refuse", "leaked", "ana"))
    assert board.for_request("key_1") is not None and board.for_request("key_2") is None
    await SqlKillSwitchStore(db).add(new_switch("provider", "openai", "refuse", "outage", "ops"))
    assert board.lookup("provider", "openai") is None  # another writer: seen on the next refresh
    await board.refresh()
    assert board.lookup("provider", "openai") is not None
    assert await board.clear("key", "key_1", "ana", "rotated") == 1
    assert board.for_request("key_1") is None


async def test_a_change_marker_in_the_hot_store_makes_other_boards_reload_at_once(db: Database) -> None:
    hot = MemoryHotStore()
    here = KillBoard(SqlKillSwitchStore(db), refresh_s=3600, signal=KillSignal(hot))
    there = KillBoard(SqlKillSwitchStore(db), refresh_s=3600, signal=KillSignal(hot))
    watch = KillWatch(KillSignal(hot), there.refresh)
    await here.refresh()
    await there.refresh()
    assert not await watch.check()
    await here.set(new_switch("route", "bot", "refuse", "bad answers", "ana"))
    assert there.lookup("route", "bot") is None
    assert await watch.check()
    assert there.lookup("route", "bot") is not None
    assert not await watch.check(), "an unchanged marker does not reload again"
    # A writer outside any gateway (the CLI) announces its change the same way.
    await AnnouncingStore(SqlKillSwitchStore(db), KillSignal(hot)).clear("route", "bot", "bo", "fixed", at=2e9)
    assert await watch.check()
    assert there.lookup("route", "bot") is None
