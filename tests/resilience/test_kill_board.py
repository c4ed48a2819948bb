"""A kill switch set or cleared through a process's admin API applies there at once, and stays applied."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from keel.control.kill_switches import KillBoard, KillSwitch, Scope, new_switch


class PausedStore:
    """A switch store whose reads can be held between taking their snapshot and returning it, the way
    a database read is in flight while the event loop serves an admin request."""

    def __init__(self) -> None:
        self.switches: list[KillSwitch] = []
        self.hold = asyncio.Event()
        self.hold.set()
        self.read = asyncio.Event()

    async def add(self, switch: KillSwitch) -> None:
        self.switches.append(switch)

    async def active(self) -> list[KillSwitch]:
        snapshot = [s for s in self.switches if s.cleared_at is None]
        self.read.set()
        await self.hold.wait()
        return snapshot

    async def clear(self, scope: Scope, target: str, actor: str, reason: str, at: float) -> int:
        before = len(self.switches)
        self.switches = [s for s in self.switches if (s.scope, s.target) != (scope, target)]
        return before - len(self.switches)

    async def history(self, limit: int = 100) -> list[KillSwitch]:
        return self.switches[-limit:]


async def refresh_around(board: KillBoard, store: PausedStore, change: Callable[[], Awaitable[object]]) -> None:
    """Run a periodic refresh that reads the store just before ``change``, and finishes just after it."""
    store.hold.clear()
    store.read.clear()
    refreshing = asyncio.create_task(board.refresh())
    await store.read.wait()
    await change()
    store.hold.set()
    await refreshing


async def test_a_refresh_in_flight_does_not_undo_a_switch_set_meanwhile() -> None:
    store = PausedStore()
    board = KillBoard(store)
    switch = new_switch("route", "chat", "refuse", "incident", "ops")
    await refresh_around(board, store, lambda: board.set(switch))
    assert board.lookup("route", "chat") == switch


async def test_a_refresh_in_flight_does_not_undo_a_clear_meanwhile() -> None:
    store = PausedStore()
    board = KillBoard(store)
    await board.set(new_switch("route", "chat", "refuse", "incident", "ops"))
    await refresh_around(board, store, lambda: board.clear("route", "chat", "ops", "fixed"))
    assert board.lookup("route", "chat") is None


async def test_without_a_refresh_in_flight_set_and_clear_apply_at_once() -> None:
    store = PausedStore()
    board = KillBoard(store)
    switch = new_switch("route", "chat", "safe_mode", "incident", "ops")
    await board.set(switch)
    assert board.lookup("route", "chat") == switch
    await board.refresh()
    assert board.lookup("route", "chat") == switch
    await board.clear("route", "chat", "ops", "fixed")
    await board.refresh()
    assert board.lookup("route", "chat") is None
