"""The tail probabilities against scipy, to 1e-9 relative wherever scipy's value is a normal double."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

from keel.monitor.drift.distributions import chi2_sf, gammaincc, kolmogorov_sf, normal_cdf, normal_sf
from keel.monitor.drift.kolmogorov import (
    durbin_cdf,
    kolmogorov_n_sf,
    ks_two_sample_pvalue,
    pelz_good_cdf,
    smirnov_sf,
)

RTOL = 1e-9
SMALLEST_NORMAL = 1e-300


def assert_close(got: float, expected: float, context: object) -> None:
    if expected < SMALLEST_NORMAL:
        assert got < 1e-290, context
    else:
        assert abs(got - expected) <= RTOL * expected, (context, got, expected)


def test_normal_cdf_and_sf() -> None:
    for x in np.linspace(-37.0, 37.0, 1481):
        assert_close(normal_cdf(float(x)), float(stats.norm.cdf(x)), x)
        assert_close(normal_sf(float(x)), float(stats.norm.sf(x)), x)


@pytest.mark.parametrize("a", [0.05, 0.5, 1.0, 2.5, 7.0, 30.0, 150.5, 1000.0, 4321.9])
def test_gammaincc_matches_scipy(a: float) -> None:
    for x in np.concatenate([[0.0], np.geomspace(1e-8, 12.0 * a + 200.0, 300), np.linspace(0.5 * a, 1.5 * a, 101)]):
        assert_close(gammaincc(a, float(x)), float(special.gammaincc(a, x)), (a, x))


@pytest.mark.parametrize("dof", [1, 2, 3, 5, 10, 21, 49, 200, 2000])
def test_chi2_sf_matches_scipy(dof: int) -> None:
    for x in np.concatenate([np.geomspace(1e-6, 20.0 * dof + 500.0, 300), np.linspace(0.0, 3.0 * dof, 61)]):
        assert_close(chi2_sf(float(x), dof), float(stats.chi2.sf(x, dof)), (dof, x))


def test_kolmogorov_limit_matches_kstwobign() -> None:
    for x in np.concatenate([np.geomspace(0.01, 26.0, 1500), [0.99999, 1.0, 1.00001]]):
        assert_close(kolmogorov_sf(float(x)), float(stats.kstwobign.sf(x)), x)


def test_gammaincc_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        gammaincc(0.0, 1.0)
    with pytest.raises(ValueError):
        gammaincc(1.0, -1.0)
    assert gammaincc(3.0, float("inf")) == 0.0


# Sample sizes that reach every method of the finite-n distribution: the small-n exact matrix, the
# one-sided tail, the Pelz-Good expansion (above 100,000 and beyond n d^1.5 = 1.4) and the closed forms.
@pytest.mark.parametrize("n", [1, 2, 3, 7, 40, 140, 141, 600, 2500, 30_000, 100_001])
def test_finite_n_kolmogorov_matches_kstwo(n: int) -> None:
    # scipy takes up to a second a point for large n: fewer points there.
    points = 120 if n < 30_000 else 9
    grid = np.concatenate(
        [
            np.geomspace(0.3 / n, 0.999, points),
            np.linspace(0.2, 3.0, points // 3) / np.sqrt(n),  # the bulk of the distribution
            [1.0 / n, 0.5 / n, 0.5, 1.0 - 1.0 / n],
        ]
    )
    for d in grid:
        if 0.0 < d < 1.0:
            assert_close(kolmogorov_n_sf(float(d), n), float(stats.kstwo.sf(d, n)), (n, d))


def test_each_finite_n_method_against_kstwo() -> None:
    # Exercise the methods directly too, inside the regions where each is exact or accurate.
    assert_close(1.0 - durbin_cdf(100, 0.08), float(stats.kstwo.sf(0.08, 100)), "durbin")
    assert_close(1.0 - pelz_good_cdf(200_000, 0.002), float(stats.kstwo.sf(0.002, 200_000)), "pelz-good")
    assert_close(2.0 * smirnov_sf(5000, 0.03), float(stats.kstwo.sf(0.03, 5000)), "smirnov")


@pytest.mark.parametrize("n", [2, 10, 141, 1000, 50_000])
def test_one_sided_smirnov_matches_scipy(n: int) -> None:
    for d in np.geomspace(1e-4, 0.999, 80 if n < 50_000 else 5):
        assert_close(smirnov_sf(n, float(d)), float(special.smirnov(n, d)), (n, d))


def test_two_sample_pvalue_uses_the_rounded_effective_size() -> None:
    # n m / (n + m) = 300 * 200 / 500 = 120: the same as the one-sample law at n = 120.
    assert ks_two_sample_pvalue(0.1, 300, 200) == kolmogorov_n_sf(0.1, 120)
    assert ks_two_sample_pvalue(0.1, 200, 300) == kolmogorov_n_sf(0.1, 120)
    with pytest.raises(ValueError):
        kolmogorov_n_sf(0.1, 0)
