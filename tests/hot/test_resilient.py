"""FailoverHotStore: fail open or closed while Redis is away, one log line per outage, recovery."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from keel.core.errors import KeelError, ServiceUnavailable
from keel.hot.memory import MemoryHotStore
from keel.hot.redis_store import RedisHotStore
from keel.hot.resilient import FailoverHotStore
from keel.hot.store import HotStoreUnavailable
from tests.clocks import ManualClock
from tests.hot.conftest import REDIS_URL, RedisStoreFactory
from tests.hot.helpers import SwitchableStore, TcpProxy, blackhole_server

UNREACHABLE = "redis://127.0.0.1:1/0"
LOG = logging.getLogger("keel.hot.test")


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOG.name and r.levelno == logging.WARNING]


async def test_fail_open_serves_from_local_counters_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    states: list[bool] = []
    store = FailoverHotStore(RedisHotStore(UNREACHABLE, timeout_s=0.2), MemoryHotStore(), "open", LOG, states.append)
    caplog.set_level(logging.WARNING, LOG.name)
    results = [await store.window_take("w", 1, 5, 60.0, time.time()) for _ in range(7)]
    assert [r.admitted for r in results] == [True] * 5 + [False] * 2
    assert await store.counter_reserve("c", 5, 10, 60.0) == (True, 5)
    assert await store.counter_settle("c", 5, 4, 60.0) == 4
    assert await store.flag_set("f", 60.0)
    await store.ping()
    assert not store.healthy
    assert states == [True, False]
    assert len(warnings(caplog)) == 1
    assert "unavailable" in warnings(caplog)[0] and "local in-process counters" in warnings(caplog)[0]
    await store.aclose()


async def test_fail_closed_refuses_with_a_503(caplog: pytest.LogCaptureFixture) -> None:
    states: list[bool] = []
    store = FailoverHotStore(RedisHotStore(UNREACHABLE, timeout_s=0.2), MemoryHotStore(), "closed", LOG, states.append)
    caplog.set_level(logging.WARNING, LOG.name)
    for _ in range(5):
        with pytest.raises(ServiceUnavailable) as caught:
            await store.window_take("w", 1, 5, 60.0, time.time())
        assert isinstance(caught.value, KeelError)
        assert caught.value.status == 503 and caught.value.code == "hot_store_unavailable"
    with pytest.raises(ServiceUnavailable):
        await store.counter_reserve("c", 1, 10, 60.0)
    assert states == [True, False]
    assert len(warnings(caplog)) == 1
    await store.aclose()


async def test_a_redis_that_never_answers_fails_over_within_the_timeout() -> None:
    server = await blackhole_server()
    port = server.sockets[0].getsockname()[1]
    primary = RedisHotStore(f"redis://127.0.0.1:{port}/0", timeout_s=0.1)
    store = FailoverHotStore(primary, MemoryHotStore(), "open", LOG)
    started = time.perf_counter()
    assert (await store.window_take("w", 1, 5, 60.0, time.time())).admitted
    assert time.perf_counter() - started < 1.0
    # Within the probe interval the next calls do not wait on the primary at all: waiting would cost at
    # least 20 x 0.1 s; the bound is half that, so a pause of the machine cannot fail the test.
    started = time.perf_counter()
    for _ in range(20):
        await store.window_take("w", 0, 5, 60.0, time.time())
    assert time.perf_counter() - started < 1.0
    await store.aclose()
    server.close()


async def test_the_primary_is_probed_at_most_once_a_second_then_recovers(caplog: pytest.LogCaptureFixture) -> None:
    clock = ManualClock()
    primary = SwitchableStore()
    states: list[bool] = []
    store = FailoverHotStore(primary, MemoryHotStore(clock), "open", LOG, states.append, clock=clock)
    caplog.set_level(logging.WARNING, LOG.name)
    await store.window_take("w", 1, 100, 60.0, 1000.0)
    primary.down = True
    for _ in range(50):
        await store.window_take("w", 1, 100, 60.0, 1000.0)
    assert primary.calls == 2  # the healthy call and the one that found it down
    clock.advance(0.5)
    await store.window_take("w", 1, 100, 60.0, 1000.0)
    assert primary.calls == 2
    clock.advance(0.6)
    await store.window_take("w", 1, 100, 60.0, 1000.0)
    assert primary.calls == 3  # one probe, failed
    primary.down = False
    await store.window_take("w", 1, 100, 60.0, 1000.0)
    assert primary.calls == 3  # the next probe is not due yet
    clock.advance(1.0)
    await store.window_take("w", 1, 100, 60.0, 1000.0)
    assert store.healthy and primary.calls == 5  # the probe, then the call itself
    assert states == [True, False, True]
    messages = warnings(caplog)
    assert len(messages) == 2 and "recovered" in messages[1]
    # A second outage is reported again, once.
    primary.down = True
    await store.window_take("w", 1, 100, 60.0, 1000.0)
    await store.window_take("w", 1, 100, 60.0, 1000.0)
    assert len(warnings(caplog)) == 3 and states[-1] is False


async def test_budget_spend_survives_an_outage() -> None:
    clock = ManualClock()
    primary = SwitchableStore()
    store = FailoverHotStore(primary, MemoryHotStore(clock), "open", LOG, clock=clock)
    assert await store.counter_reserve("b", 90, 100, 3600.0) == (True, 90)
    assert await store.counter_settle("b", 90, 90, 3600.0) == 90
    primary.down = True
    # The local counter starts from the last total seen: the budget stays nearly spent during the outage.
    assert await store.counter_reserve("b", 20, 100, 3600.0) == (False, 90)
    assert await store.counter_reserve("b", 5, 100, 3600.0) == (True, 95)
    assert await store.counter_settle("b", 5, 6, 3600.0) == 96
    primary.down = False
    clock.advance(1.0)
    assert await store.counter_get("b") == (96, 0)  # the probe recovers and the outage's spend is added back
    assert await primary.inner.counter_get("b") == (96, 0)


async def test_spend_of_counters_never_seen_before_the_outage_is_added_back() -> None:
    clock = ManualClock()
    primary = SwitchableStore()
    store = FailoverHotStore(primary, MemoryHotStore(clock), "open", LOG, clock=clock)
    await primary.inner.counter_settle("b", 0, 40, 3600.0)  # spent by other replicas
    primary.down = True
    await store.counter_settle("b", 0, 7, 3600.0)
    primary.down = False
    clock.advance(1.0)
    assert await store.counter_get("b") == (47, 0)


async def test_a_failure_while_adding_back_keeps_the_spend_for_later() -> None:
    clock = ManualClock()
    primary = SwitchableStore()
    store = FailoverHotStore(primary, MemoryHotStore(clock), "open", LOG, clock=clock)
    primary.down = True
    await store.counter_settle("b", 0, 7, 3600.0)
    primary.down = False
    clock.advance(1.0)
    real_settle = primary.inner.counter_settle

    async def fail_once(key: str, reserved: int, actual: int, ttl_s: float) -> int:
        primary.down = True
        raise HotStoreUnavailable("lost again")

    primary.inner.counter_settle = fail_once  # type: ignore[method-assign]
    await store.ping()  # recovers, then loses the primary while adding back
    assert not store.healthy
    primary.inner.counter_settle = real_settle  # type: ignore[method-assign]
    primary.down = False
    clock.advance(1.0)
    await store.ping()
    assert store.healthy
    assert await primary.inner.counter_get("b") == (7, 0)


async def test_recovery_against_a_real_redis(redis_stores: RedisStoreFactory, key_prefix: str) -> None:
    host, port = "127.0.0.1", int(REDIS_URL.rsplit(":", 1)[1].split("/")[0])
    proxy = TcpProxy(host, port)
    await proxy.start()
    primary = RedisHotStore(f"redis://127.0.0.1:{proxy.port}/0", key_prefix=key_prefix, timeout_s=0.25)
    states: list[bool] = []
    store = FailoverHotStore(primary, MemoryHotStore(), "open", LOG, states.append, probe_interval_s=0.2)
    shared = redis_stores()  # a direct view of the same keys
    await store.counter_settle("b", 0, 10, 3600.0)
    await proxy.stop()
    await store.counter_settle("b", 0, 5, 3600.0)  # served locally
    assert states == [True, False]
    await proxy.start()
    await asyncio.sleep(0.25)
    assert await store.counter_get("b") == (15, 0)
    assert states == [True, False, True]
    assert await shared.counter_get("b") == (15, 0)
    await store.aclose()
    await proxy.stop()


async def test_closed_still_books_the_spend_of_requests_already_admitted() -> None:
    clock = ManualClock()
    primary = SwitchableStore()
    store = FailoverHotStore(primary, MemoryHotStore(clock), "closed", LOG, clock=clock)
    assert await store.counter_reserve("b", 10, 100, 3600.0) == (True, 10)
    await store.window_take("w", 50, 100, 60.0, 1000.0)
    primary.down = True
    with pytest.raises(ServiceUnavailable):
        await store.counter_reserve("b", 10, 100, 3600.0)
    assert await store.counter_settle("b", 10, 12, 3600.0) == 12  # the request in flight finishes
    await store.window_adjust("w", -40, 60.0, 1000.0)  # dropped, without failing the request
    assert await store.flag_set("alert", 3600.0) is False  # deferred, not claimed
    primary.down = False
    clock.advance(1.0)
    assert await store.counter_get("b") == (12, 10)  # the lapsed reservation is still held in the primary
    assert await store.flag_set("alert", 3600.0) is True


@pytest.mark.parametrize("policy", ["open", "closed"])
async def test_boards_stay_local_during_an_outage_under_either_policy(policy: str) -> None:
    store = FailoverHotStore(RedisHotStore(UNREACHABLE, timeout_s=0.2), MemoryHotStore(), policy, LOG)  # type: ignore[arg-type]
    await store.board_put("circuits", "d", "open:1", 60.0)
    assert await store.board_read("circuits") == {"d": "open:1"}
    assert not store.healthy
    await store.aclose()
