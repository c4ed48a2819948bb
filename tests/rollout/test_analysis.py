"""Window statistics and checks: each metric's value, the sample it rests on, and the verdict rules."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.rollout.analysis import Observation, Side, WindowStats, analyse, evaluate, fmt, p99, split, windows
from keel.rollout.config import Metric, MetricCheck
from keel.rollout.machine import on_analysis, start
from tests.rollout.factories import T0, make_config, verdict


def _stats(*observations: Observation) -> WindowStats:
    stats = WindowStats()
    for obs in observations:
        stats.add(obs)
    return stats


def _many(n: int, side: Side = "candidate", **fields: Any) -> list[Observation]:
    values: dict[str, Any] = {"ok": True, "latency_ms": 100.0}
    values.update(fields)
    return [Observation(side=side, **values) for _ in range(n)]


@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=400))
def test_p99_is_the_nearest_rank_percentile(values: list[float]) -> None:
    # numpy's inverted-CDF percentile is the textbook nearest-rank definition, computed independently.
    assert p99(values) == np.percentile(values, 99, method="inverted_cdf")
    assert p99(values) == sorted(values)[math.ceil(0.99 * len(values)) - 1]


def test_metric_values_and_the_samples_they_rest_on() -> None:
    stats = _stats(
        Observation("candidate", ok=True, latency_ms=100.0, cost_usd=0.002, feedback_score=1.0, canary_passed=True),
        Observation("candidate", ok=True, latency_ms=300.0, cost_usd=0.004, validator_failed=True, canary_passed=False),
        Observation("candidate", ok=False, latency_ms=5.0, feedback_score=0.0),
        Observation("candidate", ok=True, latency_ms=200.0, canary_passed=True),
    )
    expected: dict[Metric, tuple[float, int]] = {
        "error_rate": (0.25, 4),
        "p99_latency_ms": (300.0, 3),  # the fast failure is not a latency sample
        "validator_failure_rate": (1 / 3, 3),
        "cost_per_request_usd": (0.003, 2),  # requests without a known cost are left out
        "feedback_score": (0.5, 2),
        "canary_pass_rate": (2 / 3, 3),
    }
    for metric, (value, samples) in expected.items():
        assert stats.samples(metric) == samples, metric
        assert stats.value(metric) == pytest.approx(value), metric


def test_canary_trials_outside_the_request_log_count_for_the_pass_rate_only() -> None:
    stats = _stats(*_many(4))
    for passed in (True, True, False):
        stats.add_canary_run(passed)
    assert (stats.requests, stats.samples("canary_pass_rate")) == (4, 3)
    assert stats.value("canary_pass_rate") == pytest.approx(2 / 3)


def test_an_empty_window_has_no_values() -> None:
    assert WindowStats().value("p99_latency_ms") is None
    assert WindowStats().value("feedback_score") is None


def test_split_sorts_observations_by_side() -> None:
    live, candidate = split([*_many(3, "live"), *_many(2, "candidate", ok=False)])
    assert (live.requests, live.errors, candidate.requests, candidate.errors) == (3, 0, 2, 2)


def test_absolute_bounds_fail_with_the_crossed_bound_in_the_detail() -> None:
    slow = _stats(*_many(60, latency_ms=812.0))
    result = evaluate(MetricCheck(metric="p99_latency_ms", max=500.0), WindowStats(), slow)
    assert (result.outcome, result.value, result.bound, result.detail) == ("failed", 812.0, 500.0, "812.0 > 500.0")
    low = _stats(*_many(60, feedback_score=0.5))
    result = evaluate(MetricCheck(metric="feedback_score", min=0.8, max=1.0), WindowStats(), low)
    assert (result.outcome, result.bound, result.detail) == ("failed", 0.8, "0.5 < 0.8")
    result = evaluate(MetricCheck(metric="feedback_score", min=0.4), WindowStats(), low)
    assert (result.outcome, result.bound) == ("passed", None)


def test_an_absolute_check_needs_samples_on_the_candidate_only() -> None:
    check = MetricCheck(metric="error_rate", max=0.1, min_samples=50)
    assert evaluate(check, WindowStats(), _stats(*_many(50))).outcome == "passed"
    short = evaluate(check, _stats(*_many(500, "live")), _stats(*_many(49)))
    assert (short.outcome, short.value, short.detail) == ("no_data", None, "candidate has 49 of 50 samples")


def test_a_relative_check_compares_the_ratio_and_needs_both_sides() -> None:
    check = MetricCheck(metric="p99_latency_ms", max=1.5, compare="relative_to_live", min_samples=50)
    live = _stats(*_many(50, "live", latency_ms=400.0))
    result = evaluate(check, live, _stats(*_many(50, latency_ms=800.0)))
    assert (result.outcome, result.value) == ("failed", 2.0)
    assert result.detail == "2.0x live (800.0 vs 400.0) > 1.5"
    assert evaluate(check, live, _stats(*_many(50, latency_ms=560.0))).outcome == "passed"
    thin_live = evaluate(check, _stats(*_many(10, "live")), _stats(*_many(50)))
    assert (thin_live.outcome, thin_live.detail) == ("no_data", "live has 10 of 50 samples")


def test_a_relative_check_against_a_live_value_of_zero() -> None:
    check = MetricCheck(metric="error_rate", max=2.0, compare="relative_to_live", min_samples=10)
    clean_live = _stats(*_many(10, "live"))
    assert evaluate(check, clean_live, _stats(*_many(10))).value == 1.0
    failing = evaluate(check, clean_live, _stats(*_many(9), *_many(1, ok=False)))
    assert (failing.outcome, failing.value) == ("failed", math.inf)


def test_the_verdict_is_fail_before_no_data_before_pass() -> None:
    config = make_config(
        checks=[
            {"metric": "error_rate", "max": 0.1, "min_samples": 10},
            {"metric": "feedback_score", "min": 0.5, "min_samples": 10},
        ]
    )
    good = _stats(*_many(10, feedback_score=1.0))
    assert analyse(config, WindowStats(), good).verdict == "pass"
    no_feedback = _stats(*_many(10))
    result = analyse(config, WindowStats(), no_feedback)
    assert result.verdict == "no_data"
    assert [c.outcome for c in result.checks] == ["passed", "no_data"]
    broken = _stats(*_many(10, ok=False))
    result = analyse(config, WindowStats(), broken)
    assert result.verdict == "fail"
    assert [c.check.metric for c in result.with_outcome("failed")] == ["error_rate"]


@pytest.mark.parametrize(
    ("value", "shown"), [(812.0, "812.0"), (0.0123456, "0.01235"), (1.2e-05, "1.2e-05"), (math.inf, "inf")]
)
def test_numbers_are_shown_with_four_significant_digits(value: float, shown: str) -> None:
    assert fmt(value) == shown


def test_windows_cover_the_last_interval_and_keep_a_live_baseline_at_full_weight() -> None:
    config = make_config(steps=[50, 100], step_interval_s=0)
    state = on_analysis(start(config, "bot", "gpt-4o", "gpt-4o-mini", T0), config, verdict("pass"), T0 + 60)
    live, candidate = windows(config, state, T0 + 120)
    assert live == candidate and (candidate.start, candidate.end) == (T0 + 60, T0 + 120)

    state = on_analysis(state, config, verdict("pass"), T0 + 120)
    assert state.weight == 100
    live, candidate = windows(config, state, T0 + 600)
    assert (candidate.start, candidate.end) == (T0 + 540, T0 + 600)
    # Live gets nothing at 100%: its span is the interval before the candidate took everything.
    assert (live.start, live.end) == (T0 + 60, T0 + 120)
