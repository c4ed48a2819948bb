"""Kill switches outside a running gateway (the CLI): open the store, act, announce the change, close."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from keel.config.runtime import RuntimeConfig
from keel.control.kill_signal import KillSignal
from keel.control.kill_switches import KillSwitch, KillSwitchStore, Scope
from keel.hot.config import build_hot_store
from keel.store.sql import open_database
from keel.store.sql_kill_switches import SqlKillSwitchStore


class AnnouncingStore:
    """A kill-switch store that tells running gateways about every change through the hot store."""

    def __init__(self, store: KillSwitchStore, signal: KillSignal) -> None:
        self._store = store
        self._signal = signal

    async def add(self, switch: KillSwitch) -> None:
        await self._store.add(switch)
        await self._signal.changed()

    async def active(self) -> list[KillSwitch]:
        return await self._store.active()

    async def clear(self, scope: Scope, target: str, actor: str, reason: str, at: float) -> int:
        cleared = await self._store.clear(scope, target, actor, reason, at)
        await self._signal.changed()
        return cleared

    async def history(self, limit: int = 100) -> list[KillSwitch]:
        return await self._store.history(limit)


@asynccontextmanager
async def open_kill_switch_store(config: RuntimeConfig) -> AsyncIterator[KillSwitchStore]:
    db = await open_database(config.raw.storage.database_url, schema=config.raw.storage.database_schema)
    hot = build_hot_store(config.raw.hot_store)
    try:
        yield AnnouncingStore(SqlKillSwitchStore(db), KillSignal(hot))
    finally:
        await hot.aclose()
        await db.aclose()
