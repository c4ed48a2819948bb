"""Fixtures for the hot-counter tests: every store test runs on memory and on the real Redis.

Redis tests use the server at ``KEEL_TEST_REDIS_URL`` (default: the local one). Each test gets its own
key prefix, and its keys are deleted afterwards, so concurrent runs sharing the server never see each
other. If the server is unreachable those tests fail; set ``KEEL_TEST_SKIP_REDIS=1`` to skip them instead.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from keel.hot.memory import MemoryHotStore
from keel.hot.redis_store import RedisHotStore
from keel.hot.store import HotStore

REDIS_URL = os.environ.get("KEEL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SKIP_REDIS = os.environ.get("KEEL_TEST_SKIP_REDIS") == "1"

RedisStoreFactory = Callable[..., RedisHotStore]


def new_prefix() -> str:
    return f"keeltest-{secrets.token_hex(6)}"


async def redis_or_fail() -> Redis:
    if SKIP_REDIS:
        pytest.skip("KEEL_TEST_SKIP_REDIS=1")
    client = Redis.from_url(REDIS_URL, decode_responses=True, socket_timeout=5)
    try:
        await client.ping()
    except (RedisError, OSError) as error:
        await client.aclose()
        pytest.fail(f"Redis at {REDIS_URL} is unreachable ({error!r}); set KEEL_TEST_SKIP_REDIS=1 to skip")
    return client


async def delete_prefix(client: Redis, prefix: str) -> None:
    keys = [key async for key in client.scan_iter(match=f"{{{prefix}:*", count=1000)]
    if keys:
        await client.delete(*keys)


@pytest.fixture
def key_prefix() -> str:
    return new_prefix()


@pytest.fixture
async def redis_client(key_prefix: str) -> AsyncIterator[Redis]:
    """A plain client for inspecting keys; deletes the test's keys afterwards."""
    client = await redis_or_fail()
    try:
        yield client
    finally:
        await delete_prefix(client, key_prefix)
        await client.aclose()


@pytest.fixture
async def redis_stores(redis_client: Redis, key_prefix: str) -> AsyncIterator[RedisStoreFactory]:
    """Makes RedisHotStores on the test's prefix, each with its own connection pool like a replica's."""
    made: list[RedisHotStore] = []

    def make(**kwargs: object) -> RedisHotStore:
        kwargs.setdefault("key_prefix", key_prefix)
        kwargs.setdefault("timeout_s", 2.0)
        store = RedisHotStore(REDIS_URL, **kwargs)  # type: ignore[arg-type]
        made.append(store)
        return store

    yield make
    for store in made:
        await store.aclose()


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> HotStore:
    if request.param == "memory":
        return MemoryHotStore()
    make: RedisStoreFactory = request.getfixturevalue("redis_stores")
    return make()
