"""Three replicas (three RedisHotStores, three connection pools) hammering the same limits at once."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

from keel.hot.budgets import AlertCrossing, BudgetExceeded, BudgetLedger
from keel.hot.config import Budget, RateLimit
from keel.hot.limits import RateLimiter
from keel.hot.store import HotStore
from tests.clocks import ManualClock
from tests.hot.conftest import RedisStoreFactory

REPLICAS = 3
ATTEMPTS = 500


def replicas(make: RedisStoreFactory) -> list[HotStore]:
    return [make() for _ in range(REPLICAS)]


async def test_a_window_admits_exactly_its_limit(redis_stores: RedisStoreFactory) -> None:
    stores = replicas(redis_stores)
    now = 1_795_608_000.0
    results = await asyncio.gather(
        *(stores[i % REPLICAS].window_take("rpm", 1, 100, 60.0, now + i * 0.001) for i in range(ATTEMPTS))
    )
    assert sum(r.admitted for r in results) == 100
    assert max(r.used for r in results) == 100
    assert (await stores[0].window_take("rpm", 0, 100, 60.0, now + 1)).used == 100


async def test_rate_limiters_on_three_replicas_admit_exactly_the_tightest_limit(
    redis_stores: RedisStoreFactory,
) -> None:
    stores = replicas(redis_stores)
    clock = ManualClock()
    limiters = [RateLimiter(store, clock) for store in stores]
    team = ("team:support", RateLimit(rpm=100))

    async def attempt(i: int) -> bool:
        key = (f"key:key_{i % 7}", RateLimit(rpm=1000, tpm=1_000_000))
        return (await limiters[i % REPLICAS].admit([key, team], 10)).admitted

    admitted = await asyncio.gather(*(attempt(i) for i in range(ATTEMPTS)))
    assert sum(admitted) == 100
    # Refused requests gave back what they took from their keys: the keys hold exactly the admitted ones.
    now = clock.now()
    per_key = [await stores[0].window_take(f"rate:key:key_{k}:requests", 0, 1000, 60.0, now) for k in range(7)]
    assert sum(r.used for r in per_key) == 100
    tokens = [await stores[0].window_take(f"rate:key:key_{k}:tokens", 0, 10**6, 60.0, now) for k in range(7)]
    assert sum(r.used for r in tokens) == 100 * 10


async def test_token_limits_admit_exactly_what_fits(redis_stores: RedisStoreFactory) -> None:
    stores = replicas(redis_stores)
    clock = ManualClock()
    limiters = [RateLimiter(store, clock) for store in stores]
    route = ("route:bot", RateLimit(tpm=10_000))
    admitted = await asyncio.gather(*(limiters[i % REPLICAS].admit([route], 37) for i in range(ATTEMPTS)))
    assert sum(d.admitted for d in admitted) == 10_000 // 37


async def run_budget_traffic(stores: list[HotStore], budget: Budget, max_overrun: int, seed: int) -> tuple[int, int]:
    """Five workers per replica reserve, wait, commit; returns (committed as stored, sum of commits)."""
    clock = ManualClock()
    ledgers = [BudgetLedger(store, clock) for store in stores]
    rng = random.Random(seed)
    committed: list[int] = []

    async def worker(ledger: BudgetLedger) -> None:
        for _ in range(30):
            estimate = rng.randint(5_000_000, 20_000_000)
            try:
                reservation = await ledger.reserve([budget], estimate)
            except BudgetExceeded:
                continue
            await asyncio.sleep(0)
            actual = estimate + rng.randint(0, max_overrun)
            await ledger.commit(reservation, actual)
            committed.append(actual)

    await asyncio.gather(*(worker(ledger) for ledger in ledgers for _ in range(5)))
    return await ledgers[0].spent(budget), sum(committed)


async def test_budgets_never_pass_the_limit_when_estimates_hold(redis_stores: RedisStoreFactory) -> None:
    budget = Budget(name="shared", scope="global", period="day", limit_usd=1.0)
    spent, total = await run_budget_traffic(replicas(redis_stores), budget, max_overrun=0, seed=1)
    assert spent == total
    assert 900_000_000 <= spent <= budget.limit_nanos


async def test_budget_overshoot_is_bounded_by_the_overruns_in_flight(redis_stores: RedisStoreFactory) -> None:
    # Documented bound: limit + sum over concurrently reserved requests of (actual - estimate). With 15
    # workers each holding at most one reservation and overrunning by at most 2_000_000 nano-dollars,
    # that is 30_000_000.
    budget = Budget(name="shared", scope="global", period="day", limit_usd=1.0)
    spent, total = await run_budget_traffic(replicas(redis_stores), budget, max_overrun=2_000_000, seed=2)
    assert spent == total
    assert spent <= budget.limit_nanos + REPLICAS * 5 * 2_000_000


async def test_each_alert_fires_once_across_replicas(redis_stores: RedisStoreFactory) -> None:
    stores = replicas(redis_stores)
    clock = ManualClock()
    ledgers = [BudgetLedger(store, clock) for store in stores]
    budget = Budget(name="alerts", scope="team", target="support", period="week", limit_usd=1.0, hard_stop=False)

    async def spend(ledger: BudgetLedger) -> list[AlertCrossing]:
        return await ledger.commit(await ledger.reserve([budget], 5_000_000), 5_000_000)

    crossings = await asyncio.gather(*(spend(ledgers[i % REPLICAS]) for i in range(300)))
    fired = Counter(c.threshold for batch in crossings for c in batch)
    assert fired == {0.5: 1, 0.8: 1, 1.0: 1}
