"""The circuit breaker, one transition at a time."""

from __future__ import annotations

from keel.config.resilience import CircuitConfig
from keel.routing.circuit import CircuitBreakers, CircuitState, allow, record, release_probe, window_counts
from tests.routing.manual_clock import ManualClock

STREAK = CircuitConfig(consecutive_failures=3, min_requests=1000, cooldown_s=10, half_open_probes=2)
RATE = CircuitConfig(consecutive_failures=1000, error_rate=0.5, min_requests=10, window_s=10)


def run(state: CircuitState, config: CircuitConfig, results: str, now: float = 0.0) -> CircuitState:
    for r in results:
        state = record(state, config, r == "+", now)
    return state


def opened(now: float = 0.0) -> CircuitState:
    state = run(CircuitState(), STREAK, "---", now)
    assert state.phase == "open"
    return state


def test_closed_admits_everything() -> None:
    state = run(CircuitState(), STREAK, "+--+")
    admitted, after = allow(state, STREAK, 0.0)
    assert admitted and after == state


def test_a_failure_streak_opens() -> None:
    state = run(CircuitState(), STREAK, "--")
    assert state.phase == "closed" and state.consecutive_failures == 2
    state = record(state, STREAK, False, 5.0)
    assert state == CircuitState(phase="open", opened_at=5.0)


def test_a_success_breaks_the_streak() -> None:
    state = run(CircuitState(), STREAK, "--+--")
    assert state.phase == "closed" and state.consecutive_failures == 2


def test_the_error_rate_opens_once_there_are_enough_calls() -> None:
    state = run(CircuitState(), RATE, "+-" * 4 + "+")
    assert state.phase == "closed"
    assert window_counts(state, RATE, 0.0) == (9, 4)
    assert record(state, RATE, False, 0.0).phase == "open"


def test_a_low_error_rate_stays_closed() -> None:
    state = run(CircuitState(), RATE, "++-" * 20)
    assert state.phase == "closed"


def test_below_min_requests_even_all_failures_do_not_trip_the_rate() -> None:
    config = CircuitConfig(consecutive_failures=1000, min_requests=10)
    assert run(CircuitState(), config, "-" * 9).phase == "closed"
    assert run(CircuitState(), config, "-" * 10).phase == "open"


def test_old_results_leave_the_window() -> None:
    # Nine failures at t=0 are one short of min_requests; a tenth call decides.
    state = run(CircuitState(), RATE, "-" * 9, now=0.0)
    assert record(state, RATE, False, 8.9).phase == "open"
    assert window_counts(state, RATE, 8.9) == (9, 9)
    # A full window later they no longer count.
    assert window_counts(state, RATE, 10.0) == (0, 0)
    later = record(state, RATE, False, 10.0)
    assert later.phase == "closed"
    assert window_counts(later, RATE, 10.0) == (1, 1)


def test_the_window_keeps_at_most_ten_buckets() -> None:
    state = CircuitState()
    for t in range(50):
        state = record(state, RATE, True, float(t))
    assert len(state.buckets) == 10
    assert window_counts(state, RATE, 49.0) == (10, 0)


def test_open_refuses_until_the_cooldown() -> None:
    state = opened(now=100.0)
    admitted, after = allow(state, STREAK, 109.9)
    assert not admitted and after == state


def test_after_the_cooldown_it_admits_a_limited_number_of_probes() -> None:
    state = opened(now=100.0)
    admitted, state = allow(state, STREAK, 110.0)
    assert admitted and state.phase == "half_open" and state.probes_in_flight == 1
    admitted, state = allow(state, STREAK, 110.5)
    assert admitted and state.probes_in_flight == 2
    admitted, state = allow(state, STREAK, 111.0)
    assert not admitted and state.probes_in_flight == 2


def test_a_cancelled_probe_frees_its_slot() -> None:
    _, state = allow(opened(), STREAK, 10.0)
    _, state = allow(state, STREAK, 10.0)
    state = release_probe(state)
    assert state.phase == "half_open" and state.probes_in_flight == 1
    assert allow(state, STREAK, 10.0)[0]
    assert release_probe(CircuitState()) == CircuitState()
    assert release_probe(release_probe(release_probe(state))).probes_in_flight == 0


def test_a_successful_probe_closes_and_resets() -> None:
    _, state = allow(opened(), STREAK, 10.0)
    assert record(state, STREAK, True, 11.0) == CircuitState()


def test_a_failed_probe_opens_again_from_now() -> None:
    _, state = allow(opened(), STREAK, 10.0)
    state = record(state, STREAK, False, 12.0)
    assert state == CircuitState(phase="open", opened_at=12.0)
    assert not allow(state, STREAK, 21.9)[0]
    assert allow(state, STREAK, 22.0)[0]


def test_results_of_calls_admitted_before_opening_are_ignored() -> None:
    state = opened(now=1.0)
    assert record(state, STREAK, True, 2.0) == state
    assert record(state, STREAK, False, 2.0) == state


def test_the_store_keeps_one_state_per_deployment() -> None:
    clock = ManualClock()
    configs = {"a": STREAK, "b": CircuitConfig(consecutive_failures=1, cooldown_s=1)}
    breakers = CircuitBreakers(configs.__getitem__, clock)
    assert breakers.phase("a") == "closed" and breakers.snapshot() == {}
    for name in ("a", "b"):
        assert breakers.allow(name)
        breakers.record(name, ok=False)
    assert breakers.snapshot() == {"a": "closed", "b": "open"}
    assert not breakers.allow("b")
    clock.advance(1.0)
    assert breakers.allow("b")
    assert breakers.phase("b") == "half_open"
    assert not breakers.allow("b")
    breakers.release_probe("b")
    assert breakers.allow("b")
    breakers.record("b", ok=True)
    assert breakers.snapshot() == {"a": "closed", "b": "closed"}


def test_the_store_reads_the_config_on_every_call() -> None:
    clock = ManualClock()
    configs = {"a": STREAK}
    breakers = CircuitBreakers(configs.__getitem__, clock)
    breakers.record("a", ok=False)
    configs["a"] = CircuitConfig(consecutive_failures=2)
    breakers.record("a", ok=False)
    assert breakers.phase("a") == "open"
