"""LatencyTracker: the EWMA by hand, the quantiles against numpy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keel.routing.balance import LatencyTracker

seconds = st.floats(min_value=0, max_value=1000, allow_nan=False)


def test_nothing_before_the_first_sample() -> None:
    tracker = LatencyTracker()
    assert tracker.ewma("a") is None
    assert tracker.quantile("a", 0.5) is None
    assert tracker.samples("a") == 0


def test_ewma_matches_a_hand_computation() -> None:
    tracker = LatencyTracker(alpha=0.2)
    for s in (1.0, 2.0, 4.0):
        tracker.observe("a", s)
    # 1.0 seeds it; then 0.2*2 + 0.8*1 = 1.2; then 0.2*4 + 0.8*1.2 = 1.76.
    assert tracker.ewma("a") == pytest.approx(1.76)
    assert tracker.samples("a") == 3
    assert tracker.ewma("b") is None


def test_deployments_are_tracked_apart() -> None:
    tracker = LatencyTracker(alpha=0.5)
    tracker.observe("a", 1.0)
    tracker.observe("b", 3.0)
    tracker.observe("a", 2.0)
    assert tracker.ewma("a") == pytest.approx(1.5)
    assert tracker.ewma("b") == pytest.approx(3.0)


@settings(max_examples=100)
@given(st.lists(seconds, min_size=1, max_size=60), st.floats(min_value=0, max_value=1))
def test_quantile_matches_numpy(samples: list[float], q: float) -> None:
    tracker = LatencyTracker()
    for s in samples:
        tracker.observe("a", s)
    assert tracker.quantile("a", q) == pytest.approx(float(np.quantile(samples, q)), rel=1e-9, abs=1e-9)


@settings(max_examples=50)
@given(st.lists(seconds, min_size=1, max_size=80), st.integers(min_value=1, max_value=20))
def test_quantiles_cover_only_the_most_recent_samples(samples: list[float], size: int) -> None:
    tracker = LatencyTracker(reservoir=size)
    for s in samples:
        tracker.observe("a", s)
    recent = samples[-size:]
    for q in (0.0, 0.5, 0.9, 0.99, 1.0):
        assert tracker.quantile("a", q) == pytest.approx(float(np.quantile(recent, q)), rel=1e-9, abs=1e-9)
    assert tracker.samples("a") == len(samples)


@settings(max_examples=50)
@given(st.lists(seconds, min_size=1, max_size=40), st.floats(min_value=0.01, max_value=1))
def test_ewma_stays_within_the_samples(samples: list[float], alpha: float) -> None:
    tracker = LatencyTracker(alpha=alpha)
    for s in samples:
        tracker.observe("a", s)
    ewma = tracker.ewma("a")
    assert ewma is not None
    assert min(samples) - 1e-9 <= ewma <= max(samples) + 1e-9


def test_broken_measurements_are_ignored() -> None:
    tracker = LatencyTracker()
    tracker.observe("a", 0.5)
    for bad in (math.nan, math.inf, -1.0):
        tracker.observe("a", bad)
    assert tracker.ewma("a") == 0.5
    assert tracker.samples("a") == 1


def test_bad_arguments_are_errors() -> None:
    with pytest.raises(ValueError):
        LatencyTracker(alpha=0)
    with pytest.raises(ValueError):
        LatencyTracker(reservoir=0)
    tracker = LatencyTracker()
    tracker.observe("a", 1.0)
    with pytest.raises(ValueError):
        tracker.quantile("a", 1.5)
