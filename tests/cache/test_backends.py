"""Behaviour every response cache backend shares, run against memory, SQLite and the real Redis."""

from __future__ import annotations

import asyncio

from keel.cache.memory import MemoryResponseCache
from keel.cache.store import CachedAnswer, ResponseCache, encode_answer
from tests.cache.answers import completion, streamed_chunks
from tests.clocks import ManualClock


def body_answer(content: str = "Hello there.") -> CachedAnswer:
    return CachedAnswer(body=completion(content), chunks=None, created_at=1_795_608_000.5, model="gpt-4o-mini")


async def test_round_trip_of_a_body(backend: ResponseCache) -> None:
    answer = body_answer()
    await backend.put("k1", answer, 60)
    assert await backend.get("k1") == answer


async def test_round_trip_of_a_stream(backend: ResponseCache) -> None:
    answer = CachedAnswer(body=None, chunks=streamed_chunks(), created_at=1.0, model=None)
    await backend.put("k1", answer, 60)
    assert await backend.get("k1") == answer


async def test_unknown_key_is_a_miss(backend: ResponseCache) -> None:
    assert await backend.get("never-stored") is None


async def test_put_replaces_the_previous_answer(backend: ResponseCache) -> None:
    await backend.put("k1", body_answer("first"), 60)
    await backend.put("k1", body_answer("second"), 60)
    hit = await backend.get("k1")
    assert hit is not None and hit.body == completion("second")


async def test_hits_do_not_share_objects(backend: ResponseCache) -> None:
    await backend.put("k1", body_answer(), 60)
    first = await backend.get("k1")
    assert first is not None and first.body is not None
    first.body["choices"].clear()
    second = await backend.get("k1")
    assert second is not None and second.body == completion()


async def test_oversize_answer_is_not_stored(backend: ResponseCache) -> None:
    answer = body_answer("x" * 5000)
    size = len(encode_answer(answer) or b"")
    await backend.put("big", answer, 60, max_bytes=size - 1)
    assert await backend.get("big") is None
    await backend.put("fits", answer, 60, max_bytes=size)
    assert await backend.get("fits") == answer


async def test_non_positive_ttl_is_not_stored(backend: ResponseCache) -> None:
    await backend.put("k1", body_answer(), 0)
    assert await backend.get("k1") is None


async def test_memory_entry_expires(clock: ManualClock) -> None:
    cache = MemoryResponseCache(10, clock)
    await cache.put("k1", body_answer(), 30)
    clock.advance(29.9)
    assert await cache.get("k1") is not None
    clock.advance(0.1)
    assert await cache.get("k1") is None
    assert len(cache) == 0


async def test_memory_evicts_least_recently_used(clock: ManualClock) -> None:
    cache = MemoryResponseCache(2, clock)
    await cache.put("a", body_answer("a"), 60)
    await cache.put("b", body_answer("b"), 60)
    assert await cache.get("a") is not None  # "b" is now the least recently used
    await cache.put("c", body_answer("c"), 60)
    assert len(cache) == 2
    assert await cache.get("b") is None
    assert await cache.get("a") is not None
    assert await cache.get("c") is not None


async def test_redis_entry_expires(redis_cache: ResponseCache) -> None:
    await redis_cache.put("k1", body_answer(), 0.2)
    assert await redis_cache.get("k1") is not None
    await asyncio.sleep(0.3)
    assert await redis_cache.get("k1") is None
