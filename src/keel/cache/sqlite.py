"""The response cache in a SQLite file of its own, shared by the processes of one machine.

The file is separate from Keel's main database: cache traffic is bulky and disposable, and needs no
migrations. Expiry times are wall-clock seconds because entries outlive the process that wrote them.
Expired rows are never returned, and are deleted in bulk now and then by a put.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import aiosqlite

from keel.cache.store import ExternalCache
from keel.core.clock import Clock, SystemClock

PURGE_INTERVAL_S = 60.0
# A request waits at most this long for another process's write; then the cache is skipped.
BUSY_TIMEOUT_MS = 500

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS response_cache (key TEXT PRIMARY KEY, value BLOB NOT NULL, expires_at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS response_cache_expires_at ON response_cache (expires_at)",
)


class SqliteResponseCache(ExternalCache):
    def __init__(self, path: str | os.PathLike[str], *, clock: Clock | None = None) -> None:
        self.path = Path(path).expanduser()
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._connection: aiosqlite.Connection | None = None
        self._opening = asyncio.Lock()
        self._next_purge = 0.0
        super().__init__("sqlite")

    async def _read(self, key: str) -> bytes | None:
        connection = await self._connect()
        query = "SELECT value FROM response_cache WHERE key = ? AND expires_at > ?"
        async with connection.execute(query, (key, self._clock.now())) as cursor:
            row = await cursor.fetchone()
        return None if row is None else bytes(row[0])

    async def _write(self, key: str, raw: bytes, ttl_s: float) -> None:
        connection = await self._connect()
        now = self._clock.now()
        await connection.execute(
            "INSERT OR REPLACE INTO response_cache (key, value, expires_at) VALUES (?, ?, ?)",
            (key, raw, now + ttl_s),
        )
        if now >= self._next_purge:
            self._next_purge = now + PURGE_INTERVAL_S
            await connection.execute("DELETE FROM response_cache WHERE expires_at <= ?", (now,))

    async def aclose(self) -> None:
        async with self._opening:
            connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()

    async def _connect(self) -> aiosqlite.Connection:
        if self._connection is not None:
            return self._connection
        async with self._opening:
            if self._connection is None:
                self._connection = await self._open()
            return self._connection

    async def _open(self) -> aiosqlite.Connection:
        await asyncio.to_thread(_prepare_file, self.path)
        # Autocommit: every statement is its own short transaction, so no write lock is held between them.
        connection = await aiosqlite.connect(self.path, isolation_level=None)
        try:
            await connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            # WAL lets readers in other processes carry on while one process writes.
            await connection.execute("PRAGMA journal_mode = WAL")
            # Losing the last writes in a power cut costs only cache misses, so skip the fsync per commit.
            await connection.execute("PRAGMA synchronous = NORMAL")
            for statement in _SCHEMA:
                await connection.execute(statement)
        except BaseException:
            await connection.close()
            raise
        return connection


def _prepare_file(path: Path) -> None:
    """Create the file private to its owner (SQLite gives the -wal and -shm files the same mode)."""
    parent = path.absolute().parent
    if not parent.exists():
        # Only a directory Keel creates is made private; an existing one is the user's choice.
        parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(parent, 0o700)  # mkdir's mode is filtered by the umask
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    # Cached answers are as sensitive as the conversations; tighten a file left readable by others.
    os.chmod(path, 0o600)
