"""Backoff, Retry-After, and the retry budget's bound on extra attempts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keel.config.resilience import RetryConfig
from keel.routing.retry import RetryBudget, backoff_s, retry_delay_s
from tests.routing.manual_clock import ManualClock

unit = st.floats(min_value=0, max_value=1)
CONFIG = RetryConfig(backoff_base_s=0.1, backoff_max_s=2.0, max_retry_after_s=5.0)


@settings(max_examples=200)
@given(
    st.integers(min_value=0, max_value=5000),
    st.floats(min_value=0, max_value=100),
    st.floats(min_value=0, max_value=1000),
    unit,
)
def test_backoff_stays_within_the_jitter_range(retry: int, base: float, cap: float, u: float) -> None:
    delay = backoff_s(retry, base, cap, u)
    ceiling = cap if retry > 1000 else min(cap, base * 2.0**retry)
    assert 0 <= delay <= ceiling


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [backoff_s(r, 0.1, 1.0, 1.0) for r in range(6)] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])
    assert backoff_s(3, 0.1, 10.0, 0.5) == pytest.approx(0.4)
    assert backoff_s(2, 0.1, 10.0, 0.0) == 0.0
    assert backoff_s(10_000, 0.0, 10.0, 1.0) == 0.0


def test_backoff_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        backoff_s(-1, 0.1, 1.0, 0.5)
    with pytest.raises(ValueError):
        backoff_s(0, 0.1, 1.0, 1.5)


@settings(max_examples=200)
@given(st.integers(min_value=0, max_value=10), unit, st.none() | st.floats(min_value=0, max_value=20))
def test_delays_honour_retry_after(retry: int, u: float, retry_after: float | None) -> None:
    delay = retry_delay_s(retry, CONFIG, u, retry_after)
    backoff = backoff_s(retry, CONFIG.backoff_base_s, CONFIG.backoff_max_s, u)
    if retry_after is None:
        assert delay == backoff
    elif retry_after > CONFIG.max_retry_after_s:
        assert delay is None
    else:
        assert delay == max(retry_after, backoff)
        assert delay >= retry_after


def test_retry_after_examples() -> None:
    assert retry_delay_s(0, CONFIG, 1.0, None) == pytest.approx(0.1)
    assert retry_delay_s(0, CONFIG, 1.0, 3.0) == 3.0
    assert retry_delay_s(5, CONFIG, 1.0, 0.5) == 2.0
    assert retry_delay_s(0, CONFIG, 1.0, 5.0) == 5.0
    assert retry_delay_s(0, CONFIG, 1.0, 5.01) is None


@settings(max_examples=200)
@given(
    st.sampled_from([0.0, 0.1, 0.2, 1.0, 3.0]),
    st.sampled_from([0.0, 0.5, 5.0]),
    st.sampled_from([1.0, 10.0]),
    st.lists(st.tuples(st.sampled_from(["request", "retry"]), st.floats(min_value=0, max_value=2)), max_size=200),
)
def test_granted_retries_stay_within_the_budget(
    ratio: float, min_per_s: float, burst_s: float, ops: list[tuple[str, float]]
) -> None:
    clock = ManualClock()
    budget = RetryBudget(ratio, min_per_s, clock, burst_s=burst_s)
    requests = granted = 0
    elapsed = 0.0
    for kind, dt in ops:
        clock.advance(dt)
        elapsed += dt
        if kind == "request":
            budget.on_request()
            requests += 1
        elif budget.try_spend():
            granted += 1
        bound = ratio * requests + min_per_s * elapsed + budget.capacity
        assert granted <= bound + 1e-6
        assert 0 <= budget.tokens <= budget.capacity


def test_a_full_bucket_allows_a_burst_then_refuses() -> None:
    clock = ManualClock()
    budget = RetryBudget(ratio=0.2, min_per_s=5.0, clock=clock)
    assert budget.capacity == 50
    assert sum(budget.try_spend() for _ in range(60)) == 50


def test_requests_earn_retries_at_the_ratio() -> None:
    budget = RetryBudget(ratio=0.2, min_per_s=0.0, clock=ManualClock())
    assert budget.try_spend()
    assert not budget.try_spend()
    for _ in range(4):
        budget.on_request()
        assert not budget.try_spend()
    budget.on_request()
    assert budget.try_spend()


def test_a_quiet_route_earns_retries_with_time() -> None:
    clock = ManualClock()
    budget = RetryBudget(ratio=0.0, min_per_s=2.0, clock=clock, burst_s=1.0)
    assert sum(budget.try_spend() for _ in range(5)) == 2
    clock.advance(1.0)
    assert sum(budget.try_spend() for _ in range(5)) == 2
    clock.advance(1000.0)
    assert budget.tokens == 2.0


def test_deposits_are_capped() -> None:
    budget = RetryBudget(ratio=1.0, min_per_s=0.0, clock=ManualClock())
    for _ in range(100):
        budget.on_request()
    assert budget.tokens == budget.capacity == 1.0


def test_a_clock_stepping_back_neither_drains_nor_fills() -> None:
    clock = ManualClock()
    budget = RetryBudget(ratio=0.0, min_per_s=1.0, clock=clock, burst_s=2.0)
    assert budget.try_spend()
    clock.advance(-100.0)
    assert budget.tokens == 1.0
    # Back where it was: the time it spent behind does not count twice.
    clock.advance(100.0)
    assert budget.tokens == 1.0
    clock.advance(0.5)
    assert budget.tokens == 1.5


def test_bad_budgets_are_errors() -> None:
    with pytest.raises(ValueError):
        RetryBudget(-0.1, 1.0, ManualClock())
    with pytest.raises(ValueError):
        RetryBudget(0.1, 1.0, ManualClock(), burst_s=0)
