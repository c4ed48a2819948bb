"""Embedding tests: MMD against its definition, the AUC test against scipy, both on shifted and unshifted data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from keel.monitor.drift.embedding_stats import auc_test, domain_classifier, median_heuristic, mmd_rbf, squared_distances


def naive_mmd2(x: np.ndarray, y: np.ndarray, gamma: float) -> float:
    def k(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.exp(-gamma * np.sum((a - b) ** 2)))

    n, m = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(a, b) for a in x for b in y) / (n * m)
    return xx + yy - 2.0 * xy


def test_mmd_statistic_matches_its_definition() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(25, 3)), rng.normal(loc=0.5, size=(30, 3))
    statistic, _ = mmd_rbf(x, y, gamma=0.3, permutations=1000)
    assert statistic == pytest.approx(naive_mmd2(x, y, 0.3), rel=1e-9)


def test_median_heuristic() -> None:
    points = np.random.default_rng(1).normal(size=(40, 5))
    pairs = [np.sum((points[i] - points[j]) ** 2) for i in range(40) for j in range(i + 1, 40)]
    assert median_heuristic(squared_distances(points)) == pytest.approx(1.0 / np.median(pairs), rel=1e-9)
    assert median_heuristic(squared_distances(np.ones((4, 2)))) == 1.0


def test_mmd_does_not_flag_samples_of_one_distribution() -> None:
    rng = np.random.default_rng(2)
    for _ in range(3):
        _, pvalue = mmd_rbf(rng.normal(size=(200, 16)), rng.normal(size=(200, 16)), permutations=1000)
        assert pvalue > 0.01


def test_mmd_flags_a_shift_and_reports_the_permutation_floor() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 16))
    y = rng.normal(size=(200, 16))
    y[:, 0] += 1.0  # one direction moved by one standard deviation
    statistic, pvalue = mmd_rbf(x, y, permutations=1000)
    assert statistic > 0.0
    assert pvalue == pytest.approx(1.0 / 1001.0)


def test_mmd_is_reproducible_and_seeded() -> None:
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(50, 4)), rng.normal(loc=0.2, size=(60, 4))
    assert mmd_rbf(x, y, seed=7) == mmd_rbf(x, y, seed=7)
    with pytest.raises(ValueError):
        mmd_rbf(x[:1], y)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auc_test_matches_mann_whitney(seed: int) -> None:
    rng = np.random.default_rng(seed)
    negative = np.round(rng.normal(size=300), 1)  # rounding makes ties
    positive = np.round(rng.normal(loc=0.2 * seed, size=250), 1)
    auc, pvalue = auc_test(negative, positive)
    reference = stats.mannwhitneyu(positive, negative, alternative="greater", method="asymptotic", use_continuity=False)
    assert auc == pytest.approx(float(reference.statistic) / (300 * 250), rel=1e-12)
    assert pvalue == pytest.approx(float(reference.pvalue), rel=1e-9)


def test_domain_classifier_tells_shifted_windows_apart() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(400, 32))
    y = rng.normal(size=(400, 32))
    y[:, :4] += 0.8
    auc, pvalue = domain_classifier(x, y)
    assert auc > 0.75 and pvalue < 0.001
    auc, pvalue = domain_classifier(x, rng.normal(size=(400, 32)))
    assert 0.4 < auc < 0.6 and pvalue > 0.01
