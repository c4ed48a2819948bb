"""Fixtures for the response cache tests: every backend test runs on memory, SQLite and the real Redis.

Redis tests use the server at ``KEEL_TEST_REDIS_URL`` (default: the local one), with a key prefix of
their own whose keys are deleted afterwards. If the server is unreachable they fail; set
``KEEL_TEST_SKIP_REDIS=1`` to skip them instead.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from keel.cache.memory import MemoryResponseCache
from keel.cache.redis_cache import RedisResponseCache
from keel.cache.sqlite import SqliteResponseCache
from keel.cache.store import ResponseCache
from tests.clocks import ManualClock

REDIS_URL = os.environ.get("KEEL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SKIP_REDIS = os.environ.get("KEEL_TEST_SKIP_REDIS") == "1"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def key_prefix() -> str:
    return f"keeltest-{secrets.token_hex(6)}"


@pytest.fixture
async def redis_client(key_prefix: str) -> AsyncIterator[Redis]:
    """A plain client for inspecting keys; deletes the test's keys afterwards."""
    if SKIP_REDIS:
        pytest.skip("KEEL_TEST_SKIP_REDIS=1")
    client = Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        await client.ping()
    except (RedisError, OSError) as error:
        await client.aclose()
        pytest.fail(f"Redis at {REDIS_URL} is unreachable ({error!r}); set KEEL_TEST_SKIP_REDIS=1 to skip")
    try:
        yield client
    finally:
        keys = [key async for key in client.scan_iter(match=f"{{{key_prefix}:*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
async def redis_cache(redis_client: Redis, key_prefix: str) -> AsyncIterator[RedisResponseCache]:
    cache = RedisResponseCache(REDIS_URL, key_prefix, timeout_s=2.0)
    try:
        yield cache
    finally:
        await cache.aclose()


@pytest.fixture
async def sqlite_cache(tmp_path: Path, clock: ManualClock) -> AsyncIterator[SqliteResponseCache]:
    cache = SqliteResponseCache(tmp_path / "cache" / "answers.db", clock=clock)
    try:
        yield cache
    finally:
        await cache.aclose()


@pytest.fixture(params=["memory", "sqlite", "redis"])
def backend(request: pytest.FixtureRequest, clock: ManualClock) -> ResponseCache:
    if request.param == "memory":
        return MemoryResponseCache(100, clock)
    cache: ResponseCache = request.getfixturevalue(f"{request.param}_cache")
    return cache
