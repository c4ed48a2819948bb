"""Two-sample tests on counts and samples: PSI, Kolmogorov-Smirnov (binned and raw) and chi-square.

Each is a pure function of two windows' data. On binned data the Kolmogorov-Smirnov statistic is the
largest gap between the two empirical CDFs at the bin edges; that is exactly scipy's ``ks_2samp`` run on
the data with every value replaced by its bin index, and the p-value is the one scipy's
``method="asymp"`` gives (see ``keel.monitor.drift.kolmogorov``). Binning can only hide differences
inside a bin, so the binned statistic is never larger than the raw one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from keel.monitor.drift.distributions import chi2_sf
from keel.monitor.drift.kolmogorov import ks_two_sample_pvalue

PSI_EPS = 1e-4
# PSI bands, as the credit-scoring practice that introduced PSI reads them.
PSI_MODERATE = 0.1
PSI_SIGNIFICANT = 0.25

Counts = Sequence[int] | npt.NDArray[np.int64]


def _counts(values: Counts, name: str) -> npt.NDArray[np.int64]:
    array = np.asarray(values, dtype=np.int64)
    if array.ndim != 1 or np.any(array < 0):
        raise ValueError(f"{name} must be a one-dimensional array of non-negative counts")
    return array


def _pair(first: Counts, second: Counts) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    a, b = _counts(first, "the first counts"), _counts(second, "the second counts")
    if a.shape != b.shape:
        raise ValueError(f"both windows need the same bins, got {a.size} and {b.size}")
    if a.sum() == 0 or b.sum() == 0:
        raise ValueError("both windows need at least one observation")
    return a, b


def psi(expected_counts: Counts, actual_counts: Counts, eps: float = PSI_EPS) -> float:
    """Population stability index: sum over bins of (q - p) ln(q / p), p and q the two windows' shares.

    A bin empty in one window would make the index infinite, so shares are floored at ``eps``.
    """
    expected, actual = _pair(expected_counts, actual_counts)
    p = np.maximum(expected / expected.sum(), eps)
    q = np.maximum(actual / actual.sum(), eps)
    return float(np.sum((q - p) * np.log(q / p)))


def psi_band(value: float) -> str:
    """``stable`` below 0.1, ``moderate`` from 0.1 to 0.25, ``significant`` from 0.25."""
    if value < PSI_MODERATE:
        return "stable"
    if value < PSI_SIGNIFICANT:
        return "moderate"
    return "significant"


def ks_2samp_binned(counts_a: Counts, counts_b: Counts) -> tuple[float, float]:
    """Kolmogorov-Smirnov statistic and p-value for two histograms on identical edges."""
    a, b = _pair(counts_a, counts_b)
    n, m = int(a.sum()), int(b.sum())
    statistic = float(np.max(np.abs(np.cumsum(a) / n - np.cumsum(b) / m)))
    return statistic, ks_two_sample_pvalue(statistic, n, m)


def ks_2samp(sample_a: npt.ArrayLike, sample_b: npt.ArrayLike) -> tuple[float, float]:
    """Kolmogorov-Smirnov statistic (exact) and its p-value for two raw samples."""
    a = np.sort(np.asarray(sample_a, dtype=np.float64).ravel())
    b = np.sort(np.asarray(sample_b, dtype=np.float64).ravel())
    if a.size == 0 or b.size == 0:
        raise ValueError("both samples need at least one observation")
    points = np.concatenate([a, b])
    gaps = np.searchsorted(a, points, side="right") / a.size - np.searchsorted(b, points, side="right") / b.size
    statistic = float(np.max(np.abs(gaps)))
    return statistic, ks_two_sample_pvalue(statistic, int(a.size), int(b.size))


def chi_square(counts_a: Counts, counts_b: Counts) -> tuple[float, float, int]:
    """Pearson's chi-square test of homogeneity on the 2 x k table of two windows' category counts.

    Categories seen in neither window carry no information and are left out (scipy's
    ``chi2_contingency`` refuses them); one seen in only one window stays in. Returns the statistic,
    the p-value and the degrees of freedom k - 1 (no continuity correction).
    """
    a, b = _pair(counts_a, counts_b)
    seen = (a + b) > 0
    table = np.vstack([a[seen], b[seen]]).astype(np.float64)
    dof = int(table.shape[1]) - 1
    if dof == 0:
        return 0.0, 1.0, 0
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return statistic, chi2_sf(statistic, dof), dof
