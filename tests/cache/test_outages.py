"""A broken cache store degrades to misses: requests never see its errors, and logs see each outage once."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from keel.cache.memory import MemoryResponseCache
from keel.cache.redis_cache import RedisResponseCache
from keel.cache.sqlite import SqliteResponseCache
from keel.cache.store import CachedAnswer
from tests.cache.answers import completion

ANSWER = CachedAnswer(body=completion(), chunks=None, created_at=1.0, model=None)


def outage_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "keel.cache" and r.levelno == logging.WARNING]


async def test_unreachable_redis_is_a_miss_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    cache = RedisResponseCache("redis://127.0.0.1:1/0", "keeltest-down", timeout_s=0.2)
    try:
        with caplog.at_level(logging.INFO, logger="keel.cache"):
            for _ in range(3):
                await cache.put("k1", ANSWER, 60)
                assert await cache.get("k1") is None
    finally:
        await cache.aclose()
    assert len(outage_warnings(caplog)) == 1


async def test_unopenable_sqlite_file_is_a_miss(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    cache = SqliteResponseCache(blocker / "cache.db")
    try:
        with caplog.at_level(logging.INFO, logger="keel.cache"):
            await cache.put("k1", ANSWER, 60)
            assert await cache.get("k1") is None
            assert await cache.get("k1") is None
    finally:
        await cache.aclose()
    assert len(outage_warnings(caplog)) == 1


async def test_recovery_is_logged_and_a_new_outage_reported_again(caplog: pytest.LogCaptureFixture) -> None:
    cache = MemoryResponseCache(10)
    unencodable = CachedAnswer(body={"bad": object()}, chunks=None, created_at=1.0, model=None)
    with caplog.at_level(logging.INFO, logger="keel.cache"):
        await cache.put("k1", unencodable, 60)
        await cache.put("k1", unencodable, 60)
        await cache.put("k1", ANSWER, 60)
        assert await cache.get("k1") == ANSWER
        await cache.put("k2", unencodable, 60)
    assert len(outage_warnings(caplog)) == 2
    assert any("available again" in r.getMessage() for r in caplog.records)
    assert await cache.get("k2") is None
