from __future__ import annotations

from collections.abc import Sequence

import pytest

from keel.guards.validators.sources import CachedSource, SourceUnavailable
from tests.clocks import ManualClock


class CountingSource:
    description = "counting"

    def __init__(self, present: set[str]) -> None:
        self.present = present
        self.asked: list[list[str]] = []
        self.fail = False

    async def contains(self, values: Sequence[str]) -> dict[str, bool]:
        self.asked.append(list(values))
        if self.fail:
            raise SourceUnavailable("counting: down")
        return {value: value in self.present for value in values}


async def test_answers_are_reused_until_they_expire() -> None:
    inner = CountingSource({"a"})
    clock = ManualClock()
    cache = CachedSource(inner, ttl_s=30, max_entries=100, clock=clock)
    assert await cache.contains(["a", "b"]) == {"a": True, "b": False}
    clock.advance(29)
    assert await cache.contains(["b", "a", "c"]) == {"a": True, "b": False, "c": False}
    assert inner.asked == [["a", "b"], ["c"]]  # only the new value was asked about
    clock.advance(2)  # a and b are now 31 s old, c 2 s
    inner.present = {"b"}
    assert await cache.contains(["a", "b", "c"]) == {"a": False, "b": True, "c": False}
    assert inner.asked[-1] == ["a", "b"]
    assert cache.description == "counting"


async def test_a_fully_cached_request_does_not_reach_the_source() -> None:
    inner = CountingSource({"a"})
    cache = CachedSource(inner, ttl_s=30, max_entries=100, clock=ManualClock())
    for _ in range(5):
        assert await cache.contains(["a", "a"]) == {"a": True}
    assert inner.asked == [["a"]]


async def test_the_oldest_entries_are_dropped_when_full() -> None:
    inner = CountingSource(set())
    cache = CachedSource(inner, ttl_s=30, max_entries=2, clock=ManualClock())
    await cache.contains(["a", "b"])
    await cache.contains(["c"])
    await cache.contains(["b", "c"])
    assert inner.asked == [["a", "b"], ["c"]]
    await cache.contains(["a"])
    assert inner.asked[-1] == ["a"]


async def test_failures_are_not_remembered() -> None:
    inner = CountingSource({"a"})
    cache = CachedSource(inner, ttl_s=30, max_entries=10, clock=ManualClock())
    inner.fail = True
    with pytest.raises(SourceUnavailable):
        await cache.contains(["a"])
    inner.fail = False
    assert await cache.contains(["a"]) == {"a": True}
    assert inner.asked == [["a"], ["a"]]
