"""PSI, Kolmogorov-Smirnov and chi-square against scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from keel.monitor.drift.stats import chi_square, ks_2samp, ks_2samp_binned, psi, psi_band

RTOL = 1e-9


def close(got: float, expected: float) -> bool:
    return abs(got - expected) <= RTOL * abs(expected) or abs(got - expected) < 1e-300


def test_psi_by_hand() -> None:
    expected, actual = [50, 30, 20], [30, 30, 40]
    p, q = np.array([0.5, 0.3, 0.2]), np.array([0.3, 0.3, 0.4])
    assert psi(expected, actual) == pytest.approx(float(np.sum((q - p) * np.log(q / p))), rel=1e-12)
    assert psi(expected, expected) == 0.0
    # An empty bin is floored at eps instead of making the index infinite.
    floored = psi([100, 0], [50, 50], eps=1e-4)
    assert floored == pytest.approx((0.5 - 1.0) * math.log(0.5) + (0.5 - 1e-4) * math.log(0.5 / 1e-4), rel=1e-12)


def test_psi_bands() -> None:
    assert [psi_band(v) for v in (0.0, 0.099, 0.1, 0.2499, 0.25, 3.0)] == [
        "stable",
        "stable",
        "moderate",
        "moderate",
        "significant",
        "significant",
    ]


def test_count_validation() -> None:
    with pytest.raises(ValueError):
        psi([1, 2], [1, 2, 3])
    with pytest.raises(ValueError):
        ks_2samp_binned([0, 0], [1, 2])
    with pytest.raises(ValueError):
        chi_square([1, -1], [1, 2])


def binned(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return np.searchsorted(edges, values, side="right")


@pytest.mark.parametrize(
    ("n", "m", "shift"),
    [(20, 30, 0.0), (150, 90, 0.4), (2000, 3000, 0.0), (2000, 3000, 0.05), (5000, 700, 0.3), (40_000, 50_000, 0.02)],
)
def test_binned_ks_equals_scipy_on_bin_indices(n: int, m: int, shift: float) -> None:
    rng = np.random.default_rng(n + m)
    a, b = rng.normal(size=n), rng.normal(loc=shift, size=m)
    edges = np.quantile(a, np.linspace(0.0, 1.0, 21))
    index_a, index_b = binned(a, edges), binned(b, edges)
    counts_a = np.bincount(index_a, minlength=edges.size + 1)
    counts_b = np.bincount(index_b, minlength=edges.size + 1)
    statistic, pvalue = ks_2samp_binned(counts_a, counts_b)
    reference = stats.ks_2samp(index_a, index_b, method="asymp")
    assert statistic == pytest.approx(float(reference.statistic), rel=1e-12, abs=1e-15)
    assert close(pvalue, float(reference.pvalue))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 40), min_size=2, max_size=12).filter(lambda c: sum(c) > 0),
    st.data(),
)
def test_binned_ks_equals_scipy_for_any_counts(counts_a: list[int], data: st.DataObject) -> None:
    counts_b = data.draw(st.lists(st.integers(0, 40), min_size=len(counts_a), max_size=len(counts_a)))
    if sum(counts_b) == 0:
        counts_b[0] = 1
    index_a = np.repeat(np.arange(len(counts_a)), counts_a)
    index_b = np.repeat(np.arange(len(counts_b)), counts_b)
    statistic, pvalue = ks_2samp_binned(counts_a, counts_b)
    reference = stats.ks_2samp(index_a, index_b, method="asymp")
    assert statistic == pytest.approx(float(reference.statistic), rel=1e-12, abs=1e-15)
    if math.isnan(reference.pvalue):
        # One value on each side: the effective sample size rounds to 0, where scipy has no asymptotic
        # p-value; with no evidence either way the test must not call it drift.
        assert sum(counts_a) == sum(counts_b) == 1 and pvalue == 1.0
        return
    assert close(pvalue, float(reference.pvalue))


def test_binning_never_increases_the_statistic() -> None:
    rng = np.random.default_rng(7)
    a, b = rng.exponential(size=3000), rng.exponential(scale=1.1, size=2500)
    edges = np.quantile(a, np.linspace(0.0, 1.0, 21))
    raw, _ = ks_2samp(a, b)
    coarse, _ = ks_2samp_binned(
        np.bincount(binned(a, edges), minlength=22), np.bincount(binned(b, edges), minlength=22)
    )
    assert coarse <= raw


@pytest.mark.parametrize(
    ("n", "m", "scale"), [(10, 12, 1.0), (300, 200, 1.0), (4000, 2500, 1.2), (25_000, 30_000, 1.0)]
)
def test_raw_ks_equals_scipy(n: int, m: int, scale: float) -> None:
    rng = np.random.default_rng(n)
    a, b = rng.lognormal(size=n), rng.lognormal(sigma=scale, size=m)
    statistic, pvalue = ks_2samp(a, b)
    reference = stats.ks_2samp(a, b, method="asymp")
    assert statistic == pytest.approx(float(reference.statistic), rel=1e-12)
    assert close(pvalue, float(reference.pvalue))


def test_raw_ks_with_ties_equals_scipy() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 5, 800), rng.integers(0, 6, 900)
    statistic, pvalue = ks_2samp(a, b)
    reference = stats.ks_2samp(a, b, method="asymp")
    assert statistic == pytest.approx(float(reference.statistic), rel=1e-12)
    assert close(pvalue, float(reference.pvalue))


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ([120, 80, 40], [100, 90, 60]),
        ([500, 300, 200, 0], [400, 350, 150, 100]),  # a category only the second window saw
        ([10, 0, 5, 3], [12, 0, 9, 1]),  # a category neither saw is left out
        ([1000, 10], [980, 30]),
        ([7, 3], [7, 3]),
    ],
)
def test_chi_square_equals_scipy_contingency(first: list[int], second: list[int]) -> None:
    statistic, pvalue, dof = chi_square(first, second)
    table = np.array([first, second])
    table = table[:, table.sum(axis=0) > 0]
    reference = stats.chi2_contingency(table, correction=False)
    assert statistic == pytest.approx(float(reference.statistic), rel=1e-12, abs=1e-12)
    assert close(pvalue, float(reference.pvalue))
    assert dof == int(reference.dof)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 500), st.integers(0, 500)), min_size=2, max_size=15))
def test_chi_square_equals_scipy_for_any_table(pairs: list[tuple[int, int]]) -> None:
    table = np.array(pairs).T
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or table.sum(axis=1).min() == 0:
        return
    statistic, pvalue, dof = chi_square(table[0], table[1])
    reference = stats.chi2_contingency(table, correction=False)
    assert statistic == pytest.approx(float(reference.statistic), rel=1e-10, abs=1e-12)
    assert close(pvalue, float(reference.pvalue)) or abs(pvalue - float(reference.pvalue)) < 1e-12
    assert dof == int(reference.dof)


def test_chi_square_with_one_category_has_nothing_to_test() -> None:
    assert chi_square([5, 0], [7, 0]) == (0.0, 1.0, 0)
