"""Properties over generated operation sequences: the counter invariants, window safety, backend agreement."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keel.hot.memory import MemoryHotStore
from keel.hot.redis_store import RedisHotStore
from keel.hot.store import HotStore, WindowResult
from tests.hot.conftest import REDIS_URL, delete_prefix, new_prefix, redis_or_fail

LIMIT = 100
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

Reserve = tuple[str, int]
Settle = tuple[str, int, int]
ops_strategy = st.lists(
    st.one_of(
        st.tuples(st.just("reserve"), st.integers(0, 60)),
        st.tuples(st.just("settle"), st.integers(0, 1000), st.integers(0, 80)),
    ),
    max_size=40,
)


def require_redis() -> None:
    async def check() -> None:
        client = await redis_or_fail()
        await client.aclose()

    asyncio.run(check())


async def with_stores(backend: str, count: int, body: Callable[[list[HotStore]], Awaitable[None]]) -> None:
    """Runs ``body`` on ``count`` stores sharing state (Redis replicas, or one memory store)."""
    if backend == "memory":
        memory = MemoryHotStore()
        await body([memory] * count)
        return
    prefix = new_prefix()
    stores: list[HotStore] = [RedisHotStore(REDIS_URL, key_prefix=prefix, timeout_s=2.0) for _ in range(count)]
    client = await redis_or_fail()
    try:
        await body(stores)
    finally:
        await delete_prefix(client, prefix)
        await client.aclose()
        for store in stores:
            await store.aclose()


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_any_sequence_of_reserve_and_settle_keeps_the_books(backend: str) -> None:
    if backend == "redis":
        require_redis()

    @SETTINGS
    @given(ops=ops_strategy)
    def run(ops: list[Reserve | Settle]) -> None:
        async def body(stores: list[HotStore]) -> None:
            store = stores[0]
            committed = reserved = 0
            outstanding: list[int] = []
            for op in ops:
                if op[0] == "reserve":
                    amount = op[1]
                    ok, total = await store.counter_reserve("c", amount, LIMIT, 60.0)
                    assert ok == (committed + reserved + amount <= LIMIT)
                    assert total == committed + reserved + (amount if ok else 0)
                    if ok:
                        assert total <= LIMIT
                        outstanding.append(amount)
                        reserved += amount
                elif outstanding:
                    _, pick, actual = op  # type: ignore[misc]
                    amount = outstanding.pop(pick % len(outstanding))
                    reserved -= amount
                    committed += actual
                    assert await store.counter_settle("c", amount, actual, 60.0) == committed
            assert await store.counter_get("c") == (committed, reserved)

        asyncio.run(with_stores(backend, 1, body))

    run()


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_concurrent_reservations_never_pass_the_limit(backend: str) -> None:
    if backend == "redis":
        require_redis()

    @SETTINGS
    @given(requests=st.lists(st.tuples(st.integers(1, 30), st.integers(0, 30)), min_size=1, max_size=30))
    def run(requests: list[tuple[int, int]]) -> None:
        async def body(stores: list[HotStore]) -> None:
            settled: list[int] = []
            admitted_totals: list[int] = []

            async def one(index: int, estimate: int, spend: int) -> None:
                store = stores[index % len(stores)]
                ok, total = await store.counter_reserve("c", estimate, LIMIT, 60.0)
                if not ok:
                    return
                admitted_totals.append(total)
                await asyncio.sleep(0)
                actual = min(spend, estimate)  # estimates are upper bounds here
                await store.counter_settle("c", estimate, actual, 60.0)
                settled.append(actual)

            await asyncio.gather(*(one(i, e, s) for i, (e, s) in enumerate(requests)))
            committed, reserved = await stores[0].counter_get("c")
            assert committed == sum(settled)
            assert reserved == 0
            assert committed <= LIMIT
            assert all(total <= LIMIT for total in admitted_totals)

        asyncio.run(with_stores(backend, 3, body))

    run()


# Gaps between consecutive calls: often near one window or one bucket, to probe the edges; sometimes
# arbitrary, to probe the bucket arithmetic.
gaps = st.one_of(
    st.sampled_from([0.0, 0.25, 0.75, 1.0, 30.0, 59.0, 59.25, 59.75, 60.0, 60.25, 61.0]),
    st.floats(0, 90, allow_nan=False),
)
takes_strategy = st.lists(st.tuples(gaps, st.integers(0, 10), st.integers(-8, 8)), min_size=1, max_size=40)


def timeline(takes: list[tuple[float, int, int]]) -> list[tuple[float, int, int]]:
    """Gaps to absolute times from 1000.3 (mid-bucket, so takes do not all start on a bucket edge)."""
    now, out = 1000.3, []
    for gap, amount, adjust in takes:
        now += gap
        out.append((now, amount, adjust))
    return out


def test_no_window_span_ever_holds_more_than_the_limit() -> None:
    @settings(max_examples=200, deadline=None)
    @given(takes=takes_strategy)
    def run(takes: list[tuple[float, int, int]]) -> None:
        async def body() -> None:
            store = MemoryHotStore()
            admitted: list[tuple[float, int]] = []
            for now, amount, _ in timeline(takes):
                if (await store.window_take("w", amount, 10, 60.0, now)).admitted:
                    admitted.append((now, amount))
            for at, _ in admitted:
                assert sum(a for t, a in admitted if at - 60.0 < t <= at) <= 10

        asyncio.run(body())

    run()


def test_memory_and_redis_windows_agree_exactly() -> None:
    require_redis()

    @SETTINGS
    @given(takes=takes_strategy)
    def run(takes: list[tuple[float, int, int]]) -> None:
        async def trace(store: HotStore) -> list[WindowResult]:
            results = []
            for now, amount, adjust in timeline(takes):
                results.append(await store.window_take("w", amount, 10, 60.0, now))
                await store.window_adjust("w", adjust, 60.0, now)
            return results

        async def body(stores: list[HotStore]) -> None:
            assert await trace(stores[0]) == await trace(MemoryHotStore())

        asyncio.run(with_stores("redis", 1, body))

    run()
