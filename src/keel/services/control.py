"""Kill switches outside a running gateway (the CLI): open the store, act, close."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from keel.config.runtime import RuntimeConfig
from keel.control.kill_switches import KillSwitchStore
from keel.store.sql import open_database
from keel.store.sql_kill_switches import SqlKillSwitchStore


@asynccontextmanager
async def open_kill_switch_store(config: RuntimeConfig) -> AsyncIterator[KillSwitchStore]:
    db = await open_database(config.raw.storage.database_url)
    try:
        yield SqlKillSwitchStore(db)
    finally:
        await db.aclose()
