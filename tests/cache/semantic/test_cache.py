"""The semantic cache in one process: thresholds, partitions, expiry, capacity, one embedding per request."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator, Sequence

import numpy as np
import pytest

from keel.cache.semantic import cache as cache_module
from keel.cache.semantic.cache import PromptVector, SemanticCache
from keel.cache.semantic.embedders import EmbeddingError, HashingEmbedder
from keel.cache.semantic.shared import MemoryEntryStore, SemanticEntry
from keel.cache.store import CachedAnswer
from tests.cache.answers import completion
from tests.clocks import ManualClock


class AngleEmbedder:
    """Embeds ``"deg:<angle>"`` as the unit vector at that angle, so similarities are known cosines."""

    name = "angles"
    dimensions = 2

    def __init__(self) -> None:
        self.calls = 0
        self.failing = False

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        if self.failing:
            raise EmbeddingError("embeddings deployment unreachable")
        angles = [math.radians(float(text.removeprefix("deg:"))) for text in texts]
        return np.array([[math.cos(a), math.sin(a)] for a in angles], dtype=np.float32)


def answer(content: str) -> CachedAnswer:
    return CachedAnswer(body=completion(content), chunks=None, created_at=1.0, model="gpt-4o-mini")


@pytest.fixture
def embedder() -> AngleEmbedder:
    return AngleEmbedder()


@pytest.fixture
async def cache(embedder: AngleEmbedder, clock: ManualClock) -> AsyncIterator[SemanticCache]:
    semantic = SemanticCache(embedder, MemoryEntryStore(), capacity=100, clock=clock)
    yield semantic
    await semantic.aclose()


async def test_the_same_prompt_hits(cache: SemanticCache) -> None:
    await cache.put("p", "deg:10", answer("ten"), ttl_s=60)
    hit = await cache.lookup("p", "deg:10", threshold=0.99)
    assert hit is not None
    assert hit.answer == answer("ten")
    assert hit.similarity == pytest.approx(1.0, abs=1e-6)
    assert len(cache) == 1


async def test_threshold_decides(cache: SemanticCache) -> None:
    await cache.put("p", "deg:0", answer("zero"), ttl_s=60)
    cos30 = math.cos(math.radians(30))
    hit = await cache.lookup("p", "deg:30", threshold=cos30 - 0.001)
    assert hit is not None and hit.similarity == pytest.approx(cos30, abs=1e-5)
    assert await cache.lookup("p", "deg:30", threshold=cos30 + 0.001) is None


async def test_the_nearest_entry_answers(cache: SemanticCache) -> None:
    await cache.put("p", "deg:0", answer("zero"), ttl_s=60)
    await cache.put("p", "deg:40", answer("forty"), ttl_s=60)
    hit = await cache.lookup("p", "deg:30", threshold=0.5)
    assert hit is not None and hit.answer == answer("forty")


async def test_partitions_never_mix(cache: SemanticCache) -> None:
    await cache.put("route-a", "deg:0", answer("a"), ttl_s=60)
    assert await cache.lookup("route-b", "deg:0", threshold=0.5) is None


@pytest.mark.parametrize("threshold", [0.0, -0.5, 1.01])
async def test_threshold_out_of_range_is_a_programming_error(cache: SemanticCache, threshold: float) -> None:
    with pytest.raises(ValueError):
        await cache.lookup("p", "deg:0", threshold=threshold)


async def test_a_request_is_embedded_once(cache: SemanticCache, embedder: AngleEmbedder) -> None:
    query = await cache.embed("deg:5")
    assert query is not None
    assert await cache.lookup("p", query, threshold=0.9) is None
    await cache.put("p", query, answer("five"), ttl_s=60)
    assert embedder.calls == 1
    hit = await cache.lookup("p", query, threshold=0.9)
    assert hit is not None and hit.answer == answer("five")
    assert embedder.calls == 1


async def test_a_vector_from_another_embedder_is_refused(cache: SemanticCache) -> None:
    foreign = PromptVector("other", np.array([1.0, 0.0], dtype=np.float32))
    with pytest.raises(ValueError, match="embedded by 'other'"):
        await cache.lookup("p", foreign, threshold=0.9)


async def test_entries_expire(cache: SemanticCache, clock: ManualClock) -> None:
    await cache.put("p", "deg:0", answer("zero"), ttl_s=60)
    clock.advance(59.5)
    assert await cache.lookup("p", "deg:0", threshold=0.9) is not None
    clock.advance(1)
    assert await cache.lookup("p", "deg:0", threshold=0.9) is None
    assert len(cache) == 0


async def test_an_expired_nearer_entry_gives_way_to_a_live_one(cache: SemanticCache, clock: ManualClock) -> None:
    await cache.put("p", "deg:0", answer("short-lived"), ttl_s=10)
    await cache.put("p", "deg:20", answer("long-lived"), ttl_s=100)
    first = await cache.lookup("p", "deg:0", threshold=0.9)
    assert first is not None and first.answer == answer("short-lived")
    clock.advance(11)
    second = await cache.lookup("p", "deg:0", threshold=0.9)
    assert second is not None and second.answer == answer("long-lived")


async def test_an_expired_entry_never_answers_while_a_search_holds_the_index(
    cache: SemanticCache, clock: ManualClock
) -> None:
    await cache.put("p", "deg:0", answer("zero"), ttl_s=10)
    clock.advance(11)
    # While a worker-thread search holds the index, lookups cannot purge; the expiry check must still hold.
    async with cache._lock:
        assert await cache.lookup("p", "deg:0", threshold=0.9) is None


async def test_what_is_not_stored(cache: SemanticCache) -> None:
    await cache.put("p", "deg:0", answer("no time"), ttl_s=0)
    await cache.put("p", "deg:0", answer("too big " * 100), ttl_s=60, max_bytes=200)
    assert len(cache) == 0


async def test_an_unencodable_answer_is_skipped_not_raised(cache: SemanticCache) -> None:
    broken = CachedAnswer(body={"bad": object()}, chunks=None, created_at=1.0, model=None)
    await cache.put("p", "deg:0", broken, ttl_s=60)
    assert len(cache) == 0


async def test_hits_are_fresh_objects(cache: SemanticCache) -> None:
    await cache.put("p", "deg:0", answer("zero"), ttl_s=60)
    hit = await cache.lookup("p", "deg:0", threshold=0.9)
    assert hit is not None and hit.answer.body is not None
    hit.answer.body["choices"].clear()
    again = await cache.lookup("p", "deg:0", threshold=0.9)
    assert again is not None and again.answer == answer("zero")


async def test_capacity_evicts_the_oldest(embedder: AngleEmbedder, clock: ManualClock) -> None:
    cache = SemanticCache(embedder, MemoryEntryStore(), capacity=2, clock=clock)
    for angle in (0, 60, 120):
        await cache.put("p", f"deg:{angle}", answer(str(angle)), ttl_s=60)
    assert len(cache) == 2
    assert await cache.lookup("p", "deg:0", threshold=0.99) is None
    assert await cache.lookup("p", "deg:120", threshold=0.99) is not None
    await cache.aclose()


async def test_embedder_failure_is_a_miss_logged_once(
    cache: SemanticCache, embedder: AngleEmbedder, caplog: pytest.LogCaptureFixture
) -> None:
    await cache.put("p", "deg:0", answer("zero"), ttl_s=60)
    embedder.failing = True
    with caplog.at_level(logging.WARNING, logger="keel.cache"):
        for _ in range(3):
            assert await cache.lookup("p", "deg:0", threshold=0.9) is None
            await cache.put("p", "deg:1", answer("one"), ttl_s=60)
    assert len(cache) == 1
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


async def test_text_the_embedder_cannot_read_is_never_stored(clock: ManualClock) -> None:
    cache = SemanticCache(HashingEmbedder(), MemoryEntryStore(), clock=clock)
    assert await cache.embed("?!") is None
    await cache.put("p", "?!", answer("nothing"), ttl_s=60)
    assert len(cache) == 0
    assert await cache.lookup("p", "?!", threshold=0.5) is None
    await cache.aclose()


async def test_large_partitions_answer_concurrent_lookups_from_a_worker(
    cache: SemanticCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_module, "_INLINE_ROWS", 2)
    for angle in range(0, 360, 30):
        await cache.put("p", f"deg:{angle}", answer(str(angle)), ttl_s=60)
    await cache.put("q", "deg:0", answer("q0"), ttl_s=60)
    angles = [2, 31, 178, 299, 359]
    results = await asyncio.gather(
        *(cache.lookup("p", f"deg:{angle}", threshold=0.99) for angle in angles),
        cache.lookup("p", "deg:15", threshold=0.99),
        cache.put("p", "deg:200", answer("200"), ttl_s=60),
    )
    expected = ["0", "30", "180", "300", "0"]
    for result, content in zip(results[: len(angles)], expected, strict=True):
        assert result is not None and result.answer == answer(content)
    assert results[len(angles)] is None
    assert len(cache) == 14


async def test_caches_sharing_a_store_see_each_others_entries(embedder: AngleEmbedder, clock: ManualClock) -> None:
    store = MemoryEntryStore()
    first = SemanticCache(embedder, store, clock=clock)
    second = SemanticCache(embedder, store, clock=clock)
    await first.put("p", "deg:0", answer("zero"), ttl_s=60)
    await first.put("p", "deg:90", answer("ninety"), ttl_s=5)
    clock.advance(10)
    assert await second.sync() == 1, "the expired entry is not taken"
    hit = await second.lookup("p", "deg:1", threshold=0.99)
    assert hit is not None and hit.answer == answer("zero")
    assert await second.sync() == 0
    assert await first.sync() == 0, "a cache does not add its own entries twice"
    await first.aclose()


async def test_entries_of_another_embedder_are_ignored(clock: ManualClock) -> None:
    store = MemoryEntryStore()
    hashing = SemanticCache(HashingEmbedder(), store, clock=clock)
    angles = SemanticCache(AngleEmbedder(), store, clock=clock)
    await hashing.put("p", "reset my password", answer("hashing"), ttl_s=60)
    assert await angles.sync() == 0
    await hashing.aclose()


async def test_the_background_poll_brings_entries_in(embedder: AngleEmbedder) -> None:
    store = MemoryEntryStore()
    writer = SemanticCache(embedder, store)
    reader = SemanticCache(embedder, store, poll_interval_s=0.01)
    await reader.start()
    await writer.put("p", "deg:0", answer("zero"), ttl_s=60)
    for _ in range(500):
        if len(reader):
            break
        await asyncio.sleep(0.01)
    assert await reader.lookup("p", "deg:0", threshold=0.99) is not None
    await reader.aclose()


class StuckStore(MemoryEntryStore):
    """A store whose cursor never moves: it hands out the same entry on every read."""

    def __init__(self, entry: SemanticEntry) -> None:
        super().__init__()
        self.entry = entry

    async def since(self, cursor: str) -> tuple[list[SemanticEntry], str]:
        return [self.entry], "7"


async def test_sync_ends_when_a_store_cursor_stops_moving(embedder: AngleEmbedder, clock: ManualClock) -> None:
    stuck = SemanticEntry("e1", "p", "angles", np.array([1.0, 0.0], dtype=np.float32), b"{}", clock.now() + 60)
    cache = SemanticCache(embedder, StuckStore(stuck), clock=clock)
    assert await cache.sync() == 1
    assert await cache.sync() == 0
    await cache.aclose()
