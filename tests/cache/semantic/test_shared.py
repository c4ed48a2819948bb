"""Replicas sharing semantic entries through Redis, and what an unreachable Redis does (nothing fatal).

Uses the Redis fixtures of tests/cache/conftest.py: a key prefix of the test's own, deleted afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

import numpy as np
import pytest
from redis.asyncio import Redis

from keel.cache.semantic.cache import SemanticCache
from keel.cache.semantic.embedders import HashingEmbedder
from keel.cache.semantic.shared import START, MemoryEntryStore, RedisEntryStore, SemanticEntry
from keel.cache.store import CachedAnswer
from tests.cache.answers import completion
from tests.cache.conftest import REDIS_URL
from tests.clocks import ManualClock

QUESTION = "How do I reset my password?"
REWORDED = "how can I reset my password"


def answer(content: str) -> CachedAnswer:
    return CachedAnswer(body=completion(content), chunks=None, created_at=1.0, model=None)


def entry(entry_id: str, expires_at: float = 2e9) -> SemanticEntry:
    return SemanticEntry(entry_id, "p", "hashing-512", np.full(4, 0.5, dtype=np.float32), b"{}", expires_at)


@pytest.fixture
async def replicas(
    redis_client: Redis, key_prefix: str, clock: ManualClock
) -> AsyncIterator[Callable[[], SemanticCache]]:
    made: list[SemanticCache] = []

    def replica() -> SemanticCache:
        store = RedisEntryStore(REDIS_URL, key_prefix, timeout_s=2.0, clock=clock)
        cache = SemanticCache(HashingEmbedder(), store, clock=clock)
        made.append(cache)
        return cache

    yield replica
    for cache in made:
        await cache.aclose()


async def test_replicas_see_each_others_entries(replicas: Callable[[], SemanticCache]) -> None:
    first, second = replicas(), replicas()
    await first.start()
    await second.start()
    await first.put("p", QUESTION, answer("first"), ttl_s=60)
    assert await second.lookup("p", REWORDED, threshold=0.8) is None, "not polled yet"
    assert await second.sync() == 1
    hit = await second.lookup("p", REWORDED, threshold=0.8)
    assert hit is not None and hit.answer == answer("first")
    await second.put("p", "Where is my parcel?", answer("second"), ttl_s=60)
    assert await first.sync() == 1
    assert await first.lookup("p", "where is my parcel", threshold=0.8) is not None


async def test_a_new_replica_starts_warm(replicas: Callable[[], SemanticCache]) -> None:
    first = replicas()
    for i in range(3):
        await first.put("p", f"{QUESTION} ({i})", answer(str(i)), ttl_s=60)
    late = replicas()
    await late.start()
    assert len(late) == 3


async def test_expired_entries_are_not_taken(replicas: Callable[[], SemanticCache], clock: ManualClock) -> None:
    first = replicas()
    await first.put("p", QUESTION, answer("short"), ttl_s=5)
    await first.put("p", "Where is my parcel?", answer("long"), ttl_s=60)
    clock.advance(10)
    second = replicas()
    assert await second.sync() == 1


async def test_the_stream_is_one_hash_tagged_key_that_expires(
    replicas: Callable[[], SemanticCache], redis_client: Redis, key_prefix: str
) -> None:
    await replicas().put("p", QUESTION, answer("x"), ttl_s=30)
    keys = [key async for key in redis_client.scan_iter(match=f"{{{key_prefix}:*")]
    assert keys == [f"{{{key_prefix}:semantic}}".encode()]
    assert 0 < await redis_client.pttl(keys[0]) <= 30_000


async def test_a_malformed_entry_is_skipped(
    replicas: Callable[[], SemanticCache], redis_client: Redis, key_prefix: str
) -> None:
    first = replicas()
    await redis_client.xadd(f"{{{key_prefix}:semantic}}", {"i": "junk", "x": "soon"})
    await first.put("p", QUESTION, answer("good"), ttl_s=60)
    second = replicas()
    assert await second.sync() == 1
    assert await second.lookup("p", QUESTION, threshold=0.9) is not None


async def test_entries_round_trip_in_batches(redis_client: Redis, key_prefix: str, clock: ManualClock) -> None:
    store = RedisEntryStore(REDIS_URL, key_prefix, batch=2, timeout_s=2.0, clock=clock)
    sent = [entry(f"e{i}", expires_at=clock.now() + 60 + i) for i in range(5)]
    try:
        for item in sent:
            await store.append(item)
        received: list[SemanticEntry] = []
        cursor = START
        while True:
            entries, cursor = await store.since(cursor)
            if not entries:
                break
            assert len(entries) <= 2
            received += entries
    finally:
        await store.aclose()
    assert [e.entry_id for e in received] == [e.entry_id for e in sent]
    for got, put in zip(received, sent, strict=True):
        assert (got.partition, got.embedder, got.answer, got.expires_at) == (
            put.partition,
            put.embedder,
            put.answer,
            put.expires_at,
        )
        assert got.vector.dtype == np.float32 and np.array_equal(got.vector, put.vector)


async def test_an_already_expired_entry_is_not_sent(redis_client: Redis, key_prefix: str, clock: ManualClock) -> None:
    store = RedisEntryStore(REDIS_URL, key_prefix, timeout_s=2.0, clock=clock)
    try:
        await store.append(entry("old", expires_at=clock.now() - 1))
        assert await store.since(START) == ([], START)
    finally:
        await store.aclose()


async def test_unreachable_redis_is_local_only_and_logged_once(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    store = RedisEntryStore("redis://127.0.0.1:1/0", "keeltest-down", timeout_s=0.2, clock=clock)
    cache = SemanticCache(HashingEmbedder(), store, clock=clock)
    try:
        with caplog.at_level(logging.WARNING, logger="keel.cache"):
            await cache.start()
            for i in range(3):
                await cache.put("p", f"{QUESTION} {i}", answer("local"), ttl_s=60)
                assert await cache.sync() == 0
            hit = await cache.lookup("p", f"{QUESTION} 0", threshold=0.95)
    finally:
        await cache.aclose()
    assert hit is not None, "the replica's own entries still answer"
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


async def test_memory_store_cursor_and_bound() -> None:
    store = MemoryEntryStore(max_entries=2)
    assert await store.since(START) == ([], START)
    for i in range(3):
        await store.append(entry(f"e{i}"))
    entries, cursor = await store.since(START)
    assert [e.entry_id for e in entries] == ["e1", "e2"]
    assert await store.since(cursor) == ([], cursor)
    await store.append(entry("e3"))
    entries, _ = await store.since(cursor)
    assert [e.entry_id for e in entries] == ["e3"]
