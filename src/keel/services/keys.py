"""Key management outside a running gateway (the CLI): open the store, act, close."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from keel.auth.keyring import KeyRing
from keel.auth.secrets import load_hashing_secret
from keel.config.runtime import RuntimeConfig
from keel.store.sql import open_database
from keel.store.sql_keys import SqlKeyStore


@asynccontextmanager
async def open_keyring(config: RuntimeConfig) -> AsyncIterator[KeyRing]:
    storage = config.raw.storage
    db = await open_database(storage.database_url, schema=storage.database_schema)
    try:
        yield KeyRing(
            SqlKeyStore(db),
            load_hashing_secret(Path(storage.data_dir)),
            os.environ.get("KEEL_ADMIN_KEY") or None,
        )
    finally:
        await db.aclose()
