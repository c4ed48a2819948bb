"""BudgetLedger: UTC periods, hard stops with a clear message, soft budgets, alert crossings once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from keel.hot.budgets import BudgetExceeded, BudgetLedger, budgets_for, counter_key, format_usd
from keel.hot.config import Budget, BudgetPeriod
from keel.hot.memory import MemoryHotStore
from keel.hot.periods import period_at
from keel.hot.store import HotStore
from tests.clocks import ManualClock
from tests.hot.conftest import RedisStoreFactory

USD = 1_000_000_000  # budgets count nano-dollars


def at(iso: str) -> float:
    return datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp()


def budget(name: str = "support-monthly", **kw: object) -> Budget:
    fields: dict[str, object] = {"scope": "team", "target": "support", "period": "month", "limit_usd": 50.0}
    fields.update(kw)
    return Budget(name=name, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("moment", "period", "key", "ends"),
    [
        ("2026-11-25T12:00:00", "day", "day:2026-11-25", "2026-11-26T00:00:00"),
        ("2026-11-25T23:59:59.999", "day", "day:2026-11-25", "2026-11-26T00:00:00"),
        ("2026-11-26T00:00:00", "day", "day:2026-11-26", "2026-11-27T00:00:00"),
        ("2026-11-25T12:00:00", "week", "week:2026-W48", "2026-11-30T00:00:00"),
        ("2026-11-29T23:59:59", "week", "week:2026-W48", "2026-11-30T00:00:00"),
        ("2026-11-30T00:00:00", "week", "week:2026-W49", "2026-12-07T00:00:00"),
        ("2027-01-01T00:00:00", "week", "week:2026-W53", "2027-01-04T00:00:00"),
        ("2027-01-04T00:00:00", "week", "week:2027-W01", "2027-01-11T00:00:00"),
        ("2026-11-30T23:59:59", "month", "month:2026-11", "2026-12-01T00:00:00"),
        ("2026-12-01T00:00:00", "month", "month:2026-12", "2027-01-01T00:00:00"),
        ("2026-12-31T23:59:59", "month", "month:2026-12", "2027-01-01T00:00:00"),
        ("2028-02-29T10:00:00", "month", "month:2028-02", "2028-03-01T00:00:00"),
    ],
)
def test_periods_follow_the_utc_calendar(moment: str, period: BudgetPeriod, key: str, ends: str) -> None:
    found = period_at(period, at(moment))
    assert found.key == key
    assert found.ends_at == at(ends)
    assert found.starts_at <= at(moment) < found.ends_at


async def test_spend_moves_to_a_new_counter_when_the_period_rolls_over() -> None:
    clock = ManualClock(wall=at("2026-11-30T23:59:00"))
    ledger = BudgetLedger(MemoryHotStore(clock), clock)
    monthly, daily = budget(), budget("support-daily", period="day")
    await ledger.commit(await ledger.reserve([monthly, daily], 2 * USD), 2 * USD)
    assert await ledger.spent(monthly) == 2 * USD
    clock.advance(60.0)  # 2026-12-01T00:00:00
    assert await ledger.spent(monthly) == 0 and await ledger.spent(daily) == 0
    await ledger.commit(await ledger.reserve([monthly], USD), USD)
    assert await ledger.spent(monthly) == USD


async def test_a_reservation_commits_into_the_period_it_was_made_in() -> None:
    clock = ManualClock(wall=at("2026-11-30T23:59:59"))
    store = MemoryHotStore(clock)
    ledger = BudgetLedger(store, clock)
    reservation = await ledger.reserve([budget()], USD)
    clock.advance(5.0)  # the request finishes in December
    await ledger.commit(reservation, USD)
    november = period_at("month", at("2026-11-15T00:00:00"))
    assert await store.counter_get(counter_key(budget(), november)) == (USD, 0)


async def test_hard_stop_refuses_and_names_the_budget(store: HotStore) -> None:
    clock = ManualClock(wall=at("2026-11-25T12:00:00"))
    ledger = BudgetLedger(store, clock)
    b = budget()
    await ledger.commit(await ledger.reserve([b], 49 * USD), 49_990_000_000)
    with pytest.raises(BudgetExceeded) as caught:
        await ledger.reserve([b], 20_000_000)
    error = caught.value
    assert error.message == "budget 'support-monthly' (team support, month) is exhausted: $49.99 of $50.00 spent"
    assert error.status == 429
    assert error.to_openai()["error"]["type"] == "insufficient_quota"
    assert error.code == "insufficient_quota"
    assert not error.retryable and not error.failover
    assert error.headers["retry-after"] == str(round(at("2026-12-01T00:00:00") - clock.now()))
    assert (await ledger.reserve([b], 10_000_000)).holds[0].reserved == 10_000_000  # what is left still fits


async def test_the_message_mentions_money_held_by_requests_in_flight() -> None:
    clock = ManualClock(wall=at("2026-11-25T12:00:00"))
    ledger = BudgetLedger(MemoryHotStore(clock), clock)
    await ledger.reserve([budget()], 30 * USD)
    with pytest.raises(BudgetExceeded, match=r"\$0\.00 of \$50\.00 spent, \$30\.00 held by requests in flight"):
        await ledger.reserve([budget()], 25 * USD)


async def test_a_spent_budget_refuses_even_a_free_estimate() -> None:
    clock = ManualClock(wall=at("2026-11-25T12:00:00"))
    ledger = BudgetLedger(MemoryHotStore(clock), clock)
    await ledger.commit(await ledger.reserve([budget()], 50 * USD), 50 * USD)
    with pytest.raises(BudgetExceeded, match=r"\$50\.00 of \$50\.00"):
        await ledger.reserve([budget()], 0)


async def test_soft_budgets_never_refuse_but_still_count(store: HotStore) -> None:
    clock = ManualClock(wall=at("2026-11-25T12:00:00"))
    ledger = BudgetLedger(store, clock)
    soft = budget("soft", hard_stop=False, limit_usd=1.0)
    for _ in range(3):
        await ledger.commit(await ledger.reserve([soft], USD), USD)
    assert await ledger.spent(soft) == 3 * USD


async def test_a_refusal_releases_the_other_budgets_holds(store: HotStore) -> None:
    clock = ManualClock(wall=at("2026-11-25T12:00:00"))
    ledger = BudgetLedger(store, clock)
    roomy, tight = budget("roomy", limit_usd=100.0), budget("tight", scope="global", target=None, limit_usd=1.0)
    with pytest.raises(BudgetExceeded, match="'tight' \\(global, month\\)"):
        await ledger.reserve([roomy, tight], 2 * USD)
    period = period_at("month", clock.now())
    assert await store.counter_get(counter_key(roomy, period)) == (0, 0)
    assert await store.counter_get(counter_key(tight, period)) == (0, 0)


async def test_the_first_refusal_in_a_period_carries_the_exhausted_alert(store: HotStore) -> None:
    clock = ManualClock(wall=at("2026-11-25T12:00:00"))
    ledger, other = BudgetLedger(store, clock), BudgetLedger(store, clock)
    b = budget(limit_usd=1.0)
    await ledger.commit(await ledger.reserve([b], USD), USD)
    with pytest.raises(BudgetExceeded) as first:
        await ledger.reserve([b], 1)
    exhausted = first.value.exhausted
    assert exhausted is not None and (exhausted.spent_nanos, exhausted.limit_nanos) == (USD, USD)
    for refuser in (ledger, other):  # later refusals, on any replica, do not alert again
        with pytest.raises(BudgetExceeded) as later:
            await refuser.reserve([b], 1)
        assert later.value.exhausted is None


async def test_alert_crossings_are_reported_once_each(store: HotStore) -> None:
    clock = ManualClock(wall=at("2026-11-25T12:00:00"))
    ledger = BudgetLedger(store, clock)
    b = budget(limit_usd=10.0, alert_at=(0.5, 0.8, 1.0))
    assert await ledger.commit(await ledger.reserve([b], USD), 4 * USD) == []
    crossed = await ledger.commit(await ledger.reserve([b], USD), 4_500_000_000)  # to $8.50: 50% and 80%
    assert [(c.threshold, c.spent_nanos, c.limit_nanos, c.period) for c in crossed] == [
        (0.5, 8_500_000_000, 10 * USD, "month:2026-11"),
        (0.8, 8_500_000_000, 10 * USD, "month:2026-11"),
    ]
    assert crossed[0].budget == b
    assert await ledger.commit(await ledger.reserve([b], 10_000_000), 10_000_000) == []
    # A second ledger (another replica on the same store) does not report them again.
    other = BudgetLedger(store, clock)
    assert await other.commit(await other.reserve([b], 10_000_000), 10_000_000) == []
    crossed = await other.commit(await other.reserve([b], USD), 1_500_000_000)  # costlier than estimated
    assert [(c.threshold, c.spent_nanos) for c in crossed] == [(1.0, 10_020_000_000)]
    clock.advance(86_400.0 * 6)  # December: a new period alerts afresh
    assert [c.threshold for c in await ledger.commit(await ledger.reserve([b], USD), 6 * USD)] == [0.5]


async def test_alert_at_exactly_the_threshold(store: HotStore) -> None:
    clock = ManualClock(wall=at("2026-11-25T12:00:00"))
    ledger = BudgetLedger(store, clock)
    b = budget(limit_usd=1.0, alert_at=(0.57,), hard_stop=False)
    assert await ledger.commit(await ledger.reserve([b], 1), 569_999_999) == []
    assert [c.threshold for c in await ledger.commit(await ledger.reserve([b], 1), 1)] == [0.57]


async def test_counters_and_flags_live_past_the_period_end(
    redis_stores: RedisStoreFactory, redis_client: Redis
) -> None:
    store = redis_stores()
    clock = ManualClock(wall=at("2026-11-25T12:00:00"))
    ledger = BudgetLedger(store, clock, grace_s=3600.0)
    b = budget("daily", period="day", limit_usd=1.0, alert_at=(0.5,))
    assert len(await ledger.commit(await ledger.reserve([b], USD), USD)) == 1
    period = period_at("day", clock.now())
    name = counter_key(b, period)
    expected_ms = (at("2026-11-26T00:00:00") + 3600.0 - clock.now()) * 1000
    for key in (store.redis_key("counter", name), store.redis_key("flag", f"{name}:alert:0.5")):
        assert expected_ms - 5000 < await redis_client.pttl(key) <= expected_ms


def test_budgets_apply_by_scope_and_target() -> None:
    everything = budget("all", scope="global", target=None)
    team = budget("team")
    other_team = budget("other", target="sales")
    key = budget("key", scope="key", target="key_1")
    route = budget("route", scope="route", target="bot")
    chosen = budgets_for([everything, team, other_team, key, route], key_id="key_1", team="support", route="faq")
    assert [b.name for b in chosen] == ["all", "team", "key"]
    assert budgets_for([team], key_id=None, team=None, route=None) == []


def test_money_is_shown_in_whole_cents_rounded_down() -> None:
    assert format_usd(49_999_999_999) == "$49.99"
    assert format_usd(50_000_000_000) == "$50.00"
    assert format_usd(1_234_567_890_000_000) == "$1,234,567.89"
    assert format_usd(0) == "$0.00"
