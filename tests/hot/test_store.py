"""Every HotStore operation, with the same expectations on memory and on Redis."""

from __future__ import annotations

import asyncio

import pytest

from keel.hot.memory import MemoryHotStore
from keel.hot.store import HotStore, WindowResult
from tests.clocks import ManualClock
from tests.hot.conftest import RedisStoreFactory

W = 60.0  # window; buckets are 1 s wide


async def test_window_admits_up_to_the_limit_then_refuses(store: HotStore) -> None:
    results = [await store.window_take("w", 1, 3, W, 1000.0) for _ in range(4)]
    assert [r.admitted for r in results] == [True, True, True, False]
    assert [r.used for r in results] == [1, 2, 3, 3]
    assert all(r.limit == 3 for r in results)
    assert results[3].remaining == 0


async def test_window_amount_must_fit_whole(store: HotStore) -> None:
    assert (await store.window_take("w", 7, 10, W, 1000.0)).admitted
    refused = await store.window_take("w", 4, 10, W, 1000.5)
    assert not refused.admitted and refused.used == 7
    assert (await store.window_take("w", 3, 10, W, 1000.5)).used == 10


async def test_a_take_counts_for_the_window_plus_at_most_one_bucket(store: HotStore) -> None:
    # Taken at 1000.2 (bucket 1000): still counted through 1060.999, gone at 1061.0.
    await store.window_take("w", 5, 5, W, 1000.2)
    assert not (await store.window_take("w", 1, 5, W, 1060.2)).admitted
    assert not (await store.window_take("w", 1, 5, W, 1060.99)).admitted
    after = await store.window_take("w", 1, 5, W, 1061.0)
    assert after.admitted and after.used == 1


async def test_the_window_slides_bucket_by_bucket(store: HotStore) -> None:
    await store.window_take("w", 4, 10, W, 1000.0)
    await store.window_take("w", 4, 10, W, 1030.0)
    assert (await store.window_take("w", 0, 10, W, 1060.5)).used == 8
    assert (await store.window_take("w", 0, 10, W, 1061.0)).used == 4  # the first take left
    assert (await store.window_take("w", 0, 10, W, 1091.0)).used == 0  # and the second


async def test_reset_is_when_usage_drops_or_when_the_amount_fits(store: HotStore) -> None:
    first = await store.window_take("w", 5, 10, W, 1000.0)
    assert first.reset_s == pytest.approx(61.0)  # bucket 1000 leaves at 1061
    await store.window_take("w", 3, 10, W, 1020.0)
    refused = await store.window_take("w", 4, 10, W, 1030.0)
    assert not refused.admitted
    assert refused.reset_s == pytest.approx(31.0)  # the 5 at bucket 1000 must leave: 1061 - 1030
    too_much = await store.window_take("w", 9, 10, W, 1030.0)
    assert too_much.reset_s == pytest.approx(51.0)  # both must leave: 1081 - 1030


async def test_windows_are_independent_per_key(store: HotStore) -> None:
    await store.window_take("a", 2, 2, W, 1000.0)
    assert (await store.window_take("b", 2, 2, W, 1000.0)).admitted


async def test_adjust_up_counts_at_the_current_bucket(store: HotStore) -> None:
    await store.window_take("w", 10, 100, W, 1000.0)
    await store.window_adjust("w", 15, W, 1005.0)
    assert (await store.window_take("w", 0, 100, W, 1006.0)).used == 25
    # The 10 leave with bucket 1000, the 15 with bucket 1005.
    assert (await store.window_take("w", 0, 100, W, 1061.0)).used == 15
    assert (await store.window_take("w", 0, 100, W, 1066.0)).used == 0


async def test_adjust_down_takes_from_the_newest_buckets_and_clamps_at_zero(store: HotStore) -> None:
    await store.window_take("w", 10, 100, W, 1000.0)
    await store.window_take("w", 6, 100, W, 1010.0)
    await store.window_adjust("w", -8, W, 1010.0)  # 6 from bucket 1010, 2 from bucket 1000
    assert (await store.window_take("w", 0, 100, W, 1011.0)).used == 8
    await store.window_adjust("w", -50, W, 1012.0)
    assert (await store.window_take("w", 0, 100, W, 1012.0)).used == 0
    await store.window_adjust("missing", -5, W, 1012.0)
    assert (await store.window_take("missing", 0, 100, W, 1012.0)).used == 0


async def test_counter_reserve_holds_capacity_up_to_the_limit(store: HotStore) -> None:
    assert await store.counter_reserve("c", 60, 100, 60.0) == (True, 60)
    assert await store.counter_reserve("c", 50, 100, 60.0) == (False, 60)
    assert await store.counter_reserve("c", 40, 100, 60.0) == (True, 100)
    assert await store.counter_get("c") == (0, 100)


async def test_counter_without_limit_always_reserves(store: HotStore) -> None:
    assert await store.counter_reserve("c", 10**12, None, 60.0) == (True, 10**12)


async def test_counter_settle_releases_and_commits(store: HotStore) -> None:
    await store.counter_reserve("c", 60, 100, 60.0)
    await store.counter_reserve("c", 30, 100, 60.0)
    assert await store.counter_settle("c", 60, 45, 60.0) == 45
    assert await store.counter_get("c") == (45, 30)
    assert await store.counter_reserve("c", 25, 100, 60.0) == (True, 100)
    assert await store.counter_settle("c", 30, 80, 60.0) == 125  # an overrun is committed in full
    assert await store.counter_reserve("c", 1, 1000, 60.0) == (True, 151)


async def test_counter_settle_never_goes_below_zero(store: HotStore) -> None:
    assert await store.counter_settle("c", 50, 0, 60.0) == 0
    assert await store.counter_get("c") == (0, 0)
    await store.counter_settle("c", 0, 10, 60.0)
    assert await store.counter_settle("c", 0, -30, 60.0) == 0


async def test_counter_get_of_nothing(store: HotStore) -> None:
    assert await store.counter_get("never") == (0, 0)


async def test_flag_is_set_once(store: HotStore) -> None:
    results = await asyncio.gather(*(store.flag_set("f", 60.0) for _ in range(20)))
    assert results.count(True) == 1
    assert await store.flag_set("other", 60.0)


async def test_ping_and_close(store: HotStore) -> None:
    await store.ping()
    await store.aclose()


async def test_memory_counters_and_flags_expire_with_their_ttl() -> None:
    clock = ManualClock()
    store = MemoryHotStore(clock)
    await store.counter_settle("c", 0, 5, 10.0)
    assert await store.flag_set("f", 10.0)
    clock.advance(9.9)
    assert await store.counter_get("c") == (5, 0)
    assert not await store.flag_set("f", 10.0)
    clock.advance(0.2)
    assert await store.counter_get("c") == (0, 0)
    assert await store.flag_set("f", 10.0)


async def test_memory_sweeps_dead_entries() -> None:
    clock = ManualClock()
    store = MemoryHotStore(clock)
    await store.window_take("w", 1, 5, W, clock.now())
    await store.counter_settle("c", 0, 1, 5.0)
    await store.flag_set("f", 5.0)
    clock.advance(120.0)
    await store.flag_set("trigger", 5.0)  # any write may sweep
    assert (len(store._windows), len(store._counters), len(store._flags)) == (0, 0, 1)


async def test_memory_unsettled_reservations_lapse_after_one_to_two_leases() -> None:
    clock = ManualClock(mono=0.0)
    store = MemoryHotStore(clock, reservation_lease_s=100.0)
    await store.counter_reserve("c", 40, 100, 1000.0)  # generation 0
    clock.advance(150.0)  # generation 1: the previous generation still counts
    assert await store.counter_get("c") == (0, 40)
    await store.counter_reserve("c", 10, 100, 1000.0)
    clock.advance(60.0)  # generation 2: generation 0 is gone
    assert await store.counter_get("c") == (0, 10)


async def test_redis_unsettled_reservations_lapse(redis_stores: RedisStoreFactory) -> None:
    store = redis_stores(reservation_lease_s=0.2)
    await store.counter_reserve("c", 40, 100, 60.0)
    await store.counter_settle("c", 0, 5, 60.0)
    assert await store.counter_get("c") == (5, 40)
    await asyncio.sleep(0.45)  # two generations later
    assert await store.counter_get("c") == (5, 0)
    assert await store.counter_reserve("c", 95, 100, 60.0) == (True, 100)


async def test_settle_releases_the_newest_generation_first() -> None:
    clock = ManualClock(mono=0.0)
    store = MemoryHotStore(clock, reservation_lease_s=100.0)
    await store.counter_reserve("c", 30, None, 1000.0)
    clock.advance(100.0)
    await store.counter_reserve("c", 20, None, 1000.0)
    await store.counter_settle("c", 25, 25, 1000.0)  # 20 from generation 1, 5 from generation 0
    clock.advance(100.0)  # generation 0 lapses with its remaining 25
    assert await store.counter_get("c") == (25, 0)


def test_window_result_remaining_is_never_negative() -> None:
    assert WindowResult(False, 12, 10, 1.0).remaining == 0


async def test_boards_keep_fields_per_board(store: HotStore) -> None:
    assert await store.board_read("circuits") == {}
    await store.board_put("circuits", "gpt-eu", "open:1000.5", 60.0)
    await store.board_put("circuits", "gpt-us", "closed:1001.0", 60.0)
    await store.board_put("circuits", "gpt-eu", "closed:1002.0", 60.0)
    await store.board_put("control", "kill_switches", "v7", 60.0)
    assert await store.board_read("circuits") == {"gpt-eu": "closed:1002.0", "gpt-us": "closed:1001.0"}
    assert await store.board_read("control") == {"kill_switches": "v7"}


async def test_a_board_expires_after_its_last_write() -> None:
    clock = ManualClock()
    store = MemoryHotStore(clock)
    await store.board_put("b", "f", "1", 10.0)
    clock.advance(9.0)
    await store.board_put("b", "g", "2", 10.0)
    clock.advance(9.0)
    assert await store.board_read("b") == {"f": "1", "g": "2"}
    clock.advance(1.0)
    assert await store.board_read("b") == {}


async def test_a_redis_board_expires_too(redis_stores: RedisStoreFactory) -> None:
    store = redis_stores()
    await store.board_put("b", "f", "1", 0.05)
    await asyncio.sleep(0.2)
    assert await store.board_read("b") == {}
