"""Sketches: merging equals sketching the concatenated data, state round-trips, memory stays bounded."""

from __future__ import annotations

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keel.monitor.drift.quantiles import QuantileSketch
from keel.monitor.drift.reservoir import EmbeddingSketch
from keel.monitor.drift.sketches import OTHER, CategoricalSketch, NumericSketch, SketchMismatch, aligned_counts

finite = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False)


def through_json(state: dict) -> dict:
    return orjson.loads(orjson.dumps(state))


def quantiles_of(values: list[float] | np.ndarray) -> QuantileSketch:
    sketch = QuantileSketch()
    sketch.add_many(values)
    return sketch


@settings(max_examples=80, deadline=None)
@given(st.lists(finite, max_size=200), st.lists(finite, max_size=200))
def test_quantile_merge_equals_sketch_of_concatenation(first: list[float], second: list[float]) -> None:
    merged = quantiles_of(first)
    merged.merge(quantiles_of(second))
    whole = quantiles_of(first + second)
    one_by_one = QuantileSketch()
    for value in first + second:
        one_by_one.add(value)
    for other in (whole, one_by_one):
        assert merged.count == other.count
        if merged.count:
            assert np.array_equal(merged.histogram(np.arange(-6000, 6000)), other.histogram(np.arange(-6000, 6000)))
            assert (merged.minimum, merged.maximum) == (other.minimum, other.maximum)
            assert merged.total == pytest.approx(other.total, rel=1e-9, abs=1e-3)


@pytest.mark.parametrize("draw", ["lognormal", "normal", "uniform", "integers"])
def test_quantiles_within_relative_accuracy(draw: str) -> None:
    rng = np.random.default_rng(11)
    data = {
        "lognormal": rng.lognormal(5.0, 1.5, 50_000),
        "normal": rng.normal(0.0, 100.0, 50_000),
        "uniform": rng.uniform(1e-6, 1e6, 50_000),
        "integers": rng.integers(0, 40, 50_000).astype(float),
    }[draw]
    sketch = quantiles_of(data)
    ordered = np.sort(data)
    for p in np.linspace(0.0, 1.0, 41):
        estimate = sketch.quantile(float(p))
        rank = min(int(np.floor(p * data.size)), data.size - 1)
        true = ordered[rank]
        assert abs(estimate - true) <= 0.0101 * abs(true) + 1e-9, (p, estimate, true)


def test_quantile_sketch_round_trip_and_bounded_size() -> None:
    rng = np.random.default_rng(5)
    small, large = QuantileSketch(), QuantileSketch()
    small.add_many(rng.uniform(100.0, 1000.0, 10_000))
    large.add_many(rng.uniform(100.0, 1000.0, 100_000))
    # Buckets follow the values' range (here a decade: about 116 buckets), not their number.
    assert large.buckets == small.buckets < 120
    # The state differs only in the digits of the count and the sums.
    assert abs(len(orjson.dumps(large.to_dict())) - len(orjson.dumps(small.to_dict()))) <= 8
    restored = QuantileSketch.from_dict(through_json(large.to_dict()))
    assert restored.to_dict() == large.to_dict()
    empty = QuantileSketch.from_dict(through_json(QuantileSketch().to_dict()))
    assert empty.count == 0


def test_worst_case_buckets_are_bounded() -> None:
    sketch = quantiles_of(np.concatenate([np.geomspace(1e-12, 1e20, 200_000), -np.geomspace(1e-12, 1e20, 200_000)]))
    assert sketch.buckets == 5529  # every key from -2764 to 2764


def baseline_histogram(values: np.ndarray, bins: int = 20) -> NumericSketch:
    return NumericSketch.from_baseline(quantiles_of(values), bins)


def test_baseline_histogram_counts_are_exact() -> None:
    rng = np.random.default_rng(2)
    values = rng.gamma(2.0, 300.0, 20_000)
    histogram = baseline_histogram(values)
    rebinned = histogram.empty_like()
    rebinned.add_many(values)
    assert np.array_equal(histogram.counts, rebinned.counts)
    assert histogram.counts.size == 22
    assert histogram.counts[0] == 0  # nothing below the baseline's smallest value
    shares = histogram.counts[1:-1] / values.size
    assert np.all(np.abs(shares - 0.05) < 0.01)  # quantile bins hold about 5% each


def test_discrete_feature_gets_one_bin_per_value() -> None:
    histogram = baseline_histogram(np.array([1.0, 2.0, 3.0] * 500 + [4.0] * 100))
    assert histogram.counts.tolist() == [0, 500, 500, 500, 100, 0]
    # A value rarer than one bin's share shares a bin with its neighbour.
    rare = baseline_histogram(np.array([1.0, 2.0, 3.0] * 500 + [4.0] * 10))
    assert rare.counts.tolist() == [0, 500, 500, 510, 0]


@settings(max_examples=60, deadline=None)
@given(st.lists(finite, max_size=150), st.lists(finite, max_size=150))
def test_histogram_merge_equals_histogram_of_concatenation(first: list[float], second: list[float]) -> None:
    edges = baseline_histogram(np.array([-1e6, -5.0, 0.0, 1e-3, 2.0, 40.0, 1e9]), bins=4)
    a, b, whole = edges.empty_like(), edges.empty_like(), edges.empty_like()
    a.add_many(first)
    for value in second:
        b.add(value)
    whole.add_many(first + second)
    a.merge(b)
    assert np.array_equal(a.counts, whole.counts)
    assert a.count == whole.count == len(first) + len(second)


def test_histogram_merge_needs_identical_edges() -> None:
    one = baseline_histogram(np.arange(100.0))
    other = baseline_histogram(np.arange(50.0, 150.0))
    with pytest.raises(SketchMismatch):
        one.merge(other)


def test_histogram_round_trip() -> None:
    histogram = baseline_histogram(np.random.default_rng(1).normal(size=5000))
    restored = NumericSketch.from_dict(through_json(histogram.to_dict()))
    assert restored.to_dict() == histogram.to_dict()
    assert np.array_equal(restored.edges, histogram.edges)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.sampled_from("abcdefgh"), max_size=100), st.lists(st.sampled_from("defghijk"), max_size=100))
def test_category_merge_equals_sketch_of_concatenation(first: list[str], second: list[str]) -> None:
    a, b, whole = CategoricalSketch(), CategoricalSketch(), CategoricalSketch()
    a.add_many(first)
    b.add_many(second)
    whole.add_many(first + second)
    a.merge(b)
    assert a.counts == whole.counts and a.other == whole.other == 0


def test_categories_beyond_the_limit_are_pooled() -> None:
    sketch = CategoricalSketch(max_categories=3)
    sketch.add_many(["a", "b", "c", "d", "a", "e"])
    assert sketch.counts == {"a": 2, "b": 1, "c": 1} and sketch.other == 2
    other = CategoricalSketch(max_categories=3)
    other.add_many(["x"] * 5 + ["a"])
    sketch.merge(other)
    assert len(sketch.counts) == 3 and sketch.count == 12
    assert sketch.counts["x"] == 5 and sketch.counts["a"] == 3
    assert CategoricalSketch.from_dict(through_json(sketch.to_dict())).to_dict() == sketch.to_dict()


def test_aligned_counts_keep_new_categories_and_pool_unknown_ones() -> None:
    baseline = CategoricalSketch()
    baseline.add_many(["en"] * 90 + ["fr"] * 10)
    current = baseline.empty_like()
    current.add_many(["en"] * 70 + ["de"] * 30)
    labels, first, second = aligned_counts(baseline, current)
    assert labels == ["de", "en", "fr"]
    assert first.tolist() == [0, 90, 10] and second.tolist() == [30, 70, 0]
    # A baseline that overflowed cannot say how often it saw "de": pool it on both sides.
    full = CategoricalSketch(max_categories=2)
    full.add_many(["en"] * 90 + ["fr"] * 5 + ["de"] * 5)
    labels, first, second = aligned_counts(full, current)
    assert labels == ["en", "fr", OTHER]
    assert first.tolist() == [90, 5, 5] and second.tolist() == [70, 0, 30]


def test_reservoir_is_bounded_uniform_and_exact_in_mean() -> None:
    rng = np.random.default_rng(4)
    vectors = rng.normal(size=(20_000, 8)).astype(np.float32)
    sketch = EmbeddingSketch(8, size=256, seed=3)
    sketch.add_many(vectors)
    assert sketch.sample.shape == (256, 8) and sketch.seen == 20_000
    np.testing.assert_allclose(sketch.mean, vectors.astype(np.float64).mean(axis=0), rtol=1e-9, atol=1e-12)
    # Every kept vector is one of the inputs, and positions are spread over the whole stream.
    positions = [int(np.flatnonzero((vectors == row).all(axis=1))[0]) for row in sketch.sample]
    assert len(set(positions)) == 256
    assert 7000 < np.mean(positions) < 13_000


def test_reservoir_batches_equal_one_by_one() -> None:
    vectors = np.random.default_rng(8).normal(size=(3000, 4)).astype(np.float32)
    batched, single = EmbeddingSketch(4, size=64, seed=1), EmbeddingSketch(4, size=64, seed=1)
    batched.add_many(vectors[:1000])
    batched.add_many(vectors[1000:])
    for row in vectors:
        single.add(row)
    assert np.array_equal(batched.sample, single.sample)


def test_reservoir_merge_and_round_trip() -> None:
    rng = np.random.default_rng(9)
    first, second = rng.normal(size=(5000, 6)), rng.normal(loc=1.0, size=(15_000, 6))
    a, b = EmbeddingSketch(6, size=400), EmbeddingSketch(6, size=400)
    a.add_many(first)
    b.add_many(second)
    a.merge(b)
    assert a.seen == 20_000 and a.sample.shape == (400, 6)
    np.testing.assert_allclose(a.mean, np.vstack([first, second]).mean(axis=0), rtol=1e-6, atol=1e-6)
    # About three quarters of the merged sample come from the larger side (mean of column 0 near 0.75).
    assert 0.6 < float(a.sample[:, 0].mean()) < 0.9
    restored = EmbeddingSketch.from_dict(through_json(a.to_dict()))
    assert np.array_equal(restored.sample, a.sample) and restored.seen == a.seen
    with pytest.raises(SketchMismatch):
        a.add(np.zeros(5))
