"""The SQLite backend's own concerns: expiry on the wall clock, persistence, purging and file permissions."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

from keel.cache.sqlite import PURGE_INTERVAL_S, SqliteResponseCache
from keel.cache.store import CachedAnswer
from tests.cache.answers import completion
from tests.clocks import ManualClock

ANSWER = CachedAnswer(body=completion(), chunks=None, created_at=1.0, model="m")


def row_count(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        return int(connection.execute("SELECT count(*) FROM response_cache").fetchone()[0])


async def test_entry_expires(sqlite_cache: SqliteResponseCache, clock: ManualClock) -> None:
    await sqlite_cache.put("k1", ANSWER, 30)
    clock.advance(29.9)
    assert await sqlite_cache.get("k1") == ANSWER
    clock.advance(0.1)
    assert await sqlite_cache.get("k1") is None


async def test_entries_outlive_the_process(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "cache.db"
    first = SqliteResponseCache(path, clock=clock)
    await first.put("k1", ANSWER, 60)
    await first.aclose()
    second = SqliteResponseCache(path, clock=clock)
    try:
        assert await second.get("k1") == ANSWER
    finally:
        await second.aclose()


async def test_expired_rows_are_purged_by_a_later_put(sqlite_cache: SqliteResponseCache, clock: ManualClock) -> None:
    await sqlite_cache.put("old", ANSWER, 10)
    clock.advance(5)
    await sqlite_cache.put("newer", ANSWER, 1000)
    assert row_count(sqlite_cache.path) == 2
    clock.advance(PURGE_INTERVAL_S)
    await sqlite_cache.put("newest", ANSWER, 1000)
    assert row_count(sqlite_cache.path) == 2
    assert await sqlite_cache.get("old") is None
    assert await sqlite_cache.get("newer") == ANSWER


async def test_file_and_new_directory_are_private(sqlite_cache: SqliteResponseCache) -> None:
    await sqlite_cache.put("k1", ANSWER, 60)
    assert stat.S_IMODE(sqlite_cache.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(sqlite_cache.path.parent.stat().st_mode) == 0o700
    with sqlite3.connect(sqlite_cache.path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_existing_readable_file_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    cache = SqliteResponseCache(path)
    try:
        await cache.put("k1", ANSWER, 60)
    finally:
        await cache.aclose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_corrupt_row_is_a_miss(sqlite_cache: SqliteResponseCache, clock: ManualClock) -> None:
    await sqlite_cache.put("k1", ANSWER, 60)
    with sqlite3.connect(sqlite_cache.path) as connection:
        connection.execute("UPDATE response_cache SET value = ? WHERE key = 'k1'", (b"not json",))
    assert await sqlite_cache.get("k1") is None
