"""Replicas share circuit openings and closings through the hot store (in-process and Redis)."""

from __future__ import annotations

import asyncio

import pytest

from keel.config.resilience import CircuitConfig
from keel.hot.memory import MemoryHotStore
from keel.hot.store import HotStore
from keel.routing.circuit import CircuitBreakers
from keel.routing.shared_circuits import BOARD, CircuitSync
from tests.clocks import ManualClock
from tests.hot.conftest import RedisStoreFactory, key_prefix, redis_client, redis_stores  # noqa: F401 (fixtures)

CONFIG = CircuitConfig(consecutive_failures=2, cooldown_s=30.0)


def replica(store: HotStore, clock: ManualClock) -> tuple[CircuitBreakers, CircuitSync]:
    breakers = CircuitBreakers(lambda _: CONFIG, clock)
    return breakers, CircuitSync(breakers, store, clock)


async def settle(*syncs: CircuitSync) -> None:
    """Let the background writes of published transitions finish."""
    for sync in syncs:
        await asyncio.gather(*list(sync._pending))


@pytest.fixture(params=["memory", "redis"])
def stores(request: pytest.FixtureRequest) -> tuple[HotStore, HotStore]:
    if request.param == "memory":
        shared = MemoryHotStore()
        return shared, shared
    make: RedisStoreFactory = request.getfixturevalue("redis_stores")
    return make(), make()


async def test_a_circuit_opened_on_one_replica_opens_on_the_others(stores: tuple[HotStore, HotStore]) -> None:
    clock = ManualClock()
    a, sync_a = replica(stores[0], clock)
    b, sync_b = replica(stores[1], clock)
    a.record("gpt", False)
    a.record("gpt", False)
    await settle(sync_a)
    assert a.phase("gpt") == "open" and b.phase("gpt") == "closed"
    await sync_b.sync()
    assert b.phase("gpt") == "open"
    assert not b.allow("gpt")


async def test_an_adopted_circuit_keeps_only_the_rest_of_its_cooldown(stores: tuple[HotStore, HotStore]) -> None:
    clock = ManualClock()
    a, sync_a = replica(stores[0], clock)
    b, sync_b = replica(stores[1], clock)
    a.record("gpt", False)
    a.record("gpt", False)
    await settle(sync_a)
    clock.advance(20.0)
    await sync_b.sync()
    assert not b.allow("gpt")
    clock.advance(10.0)
    assert b.allow("gpt"), "the cooldown counts from when the first replica opened it"
    assert b.phase("gpt") == "half_open"


async def test_a_successful_probe_elsewhere_closes_the_circuit_here(stores: tuple[HotStore, HotStore]) -> None:
    clock = ManualClock()
    a, sync_a = replica(stores[0], clock)
    b, sync_b = replica(stores[1], clock)
    a.record("gpt", False)
    a.record("gpt", False)
    await settle(sync_a)
    await sync_b.sync()
    clock.advance(31.0)
    assert a.allow("gpt")
    a.record("gpt", True)
    await settle(sync_a)
    assert a.phase("gpt") == "closed" and b.phase("gpt") == "open"
    await sync_b.sync()
    assert b.phase("gpt") == "closed"


async def test_an_opening_older_than_the_cooldown_is_not_adopted() -> None:
    clock = ManualClock()
    store = MemoryHotStore(clock)
    a, sync_a = replica(store, clock)
    b, sync_b = replica(store, clock)
    a.record("gpt", False)
    a.record("gpt", False)
    await settle(sync_a)
    clock.advance(45.0)
    await sync_b.sync()
    assert b.phase("gpt") == "closed"


async def test_a_replica_ignores_its_own_changes_and_garbage() -> None:
    clock = ManualClock()
    store = MemoryHotStore(clock)
    a, sync_a = replica(store, clock)
    await store.board_put(BOARD, "weird", "half:nonsense", 60.0)
    await store.board_put(BOARD, "gpt", f"open:{clock.now()!r}:{sync_a.replica}", 60.0)
    await sync_a.sync()
    assert a.snapshot() == {}
