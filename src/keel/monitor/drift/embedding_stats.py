"""Two-sample tests for embeddings: kernel MMD with a permutation test, and a domain classifier.

**MMD (the default).** The maximum mean discrepancy with the Gaussian kernel exp(-gamma |x - y|^2)
measures how far apart two samples' kernel mean embeddings are; it is zero only when the
distributions are equal. ``gamma`` defaults to 1 / median of the pooled squared distances (the median
heuristic). The statistic is the unbiased estimate of MMD^2; its p-value comes from a permutation test
(the share of random relabellings of the pooled sample with a statistic at least as large, counting
the observed one), seeded for reproducibility, so it is valid at any sample size without asymptotics.

**Domain classifier (the alternative).** Logistic regression learns to tell the windows apart on one
part of the data; its AUC on the held-out rest is 0.5 when it cannot (no drift) and nears 1 when it can.
The p-value is the Mann-Whitney test of that AUC against 0.5 (normal approximation, tie-corrected).

MMD is the default because it uses every sampled vector for the test, needs no fitted model, and its
permutation p-value is exact up to Monte Carlo error, while the classifier spends most of the sample on
training and, in 384 dimensions from a few hundred vectors, depends on its regularisation. The
classifier is kept as a second opinion whose AUC reads as an effect size.

Cost: MMD builds the (n + m)^2 kernel matrix once and each permutation costs one pass over it; with the
reservoirs' 512 + 512 vectors and 1,000 permutations that is about 10^9 multiply-adds.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from keel.monitor.drift.distributions import normal_sf

DEFAULT_PERMUTATIONS = 1000
_BATCH = 100

Matrix = npt.NDArray[np.float64]


def _samples(x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[Matrix, Matrix]:
    a = np.asarray(x, dtype=np.float64)
    b = np.asarray(y, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError("both samples must be 2-D arrays with the same number of columns")
    if a.shape[0] < 2 or b.shape[0] < 2:
        raise ValueError("each sample needs at least two vectors")
    return a, b


def squared_distances(points: Matrix) -> Matrix:
    norms = np.einsum("ij,ij->i", points, points)
    distances: Matrix = np.maximum(norms[:, None] + norms[None, :] - 2.0 * points @ points.T, 0.0)
    return distances


def median_heuristic(distances: Matrix) -> float:
    """1 / median of the squared distances between distinct points (1.0 if they all coincide)."""
    upper = distances[np.triu_indices(distances.shape[0], k=1)]
    median = float(np.median(upper))
    return 1.0 / median if median > 0.0 else 1.0


def _unbiased_mmd2(
    kernel_x_sums: Matrix, kernel_xy_sums: Matrix, kernel_total: float, n: int, m: int
) -> npt.NDArray[np.float64]:
    """MMD^2_u from the within-x and cross sums of the kernel matrix (its diagonal is all ones)."""
    within_y = kernel_total - kernel_x_sums - 2.0 * kernel_xy_sums
    return (kernel_x_sums - n) / (n * (n - 1)) + (within_y - m) / (m * (m - 1)) - 2.0 * kernel_xy_sums / (n * m)


def mmd_rbf(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    gamma: float | None = None,
    permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = 0,
) -> tuple[float, float]:
    """Unbiased MMD^2 with a Gaussian kernel and its permutation p-value (at least 1 / (permutations + 1))."""
    a, b = _samples(x, y)
    n, m = a.shape[0], b.shape[0]
    distances = squared_distances(np.vstack([a, b]))
    kernel = np.exp(-(median_heuristic(distances) if gamma is None else gamma) * distances)
    total = float(kernel.sum())
    is_x = np.zeros((1, n + m))
    is_x[0, :n] = 1.0
    observed = float(_stat_for_labels(kernel, is_x, total, n, m)[0])
    rng = np.random.default_rng(seed)
    at_least = 0
    for start in range(0, permutations, _BATCH):
        rows = min(_BATCH, permutations - start)
        order = rng.permuted(np.tile(np.arange(n + m), (rows, 1)), axis=1)
        labels = np.zeros((rows, n + m))
        np.put_along_axis(labels, order[:, :n], 1.0, axis=1)
        at_least += int(np.sum(_stat_for_labels(kernel, labels, total, n, m) >= observed))
    return observed, (1 + at_least) / (1 + permutations)


def _stat_for_labels(kernel: Matrix, labels: Matrix, total: float, n: int, m: int) -> npt.NDArray[np.float64]:
    """MMD^2_u for each row of 0/1 labels (1 marks the first sample's members)."""
    weighted = labels @ kernel
    within_x = np.einsum("ij,ij->i", weighted, labels)
    cross = weighted.sum(axis=1) - within_x
    return _unbiased_mmd2(within_x, cross, total, n, m)


def auc_test(negative_scores: npt.ArrayLike, positive_scores: npt.ArrayLike) -> tuple[float, float]:
    """AUC of scores that should rank positives higher, and its one-sided Mann-Whitney p-value.

    AUC = U / (n_pos n_neg) with mid-ranks for ties; the p-value is P(U >= observed) under the
    tie-corrected normal approximation without continuity correction (scipy's ``mannwhitneyu`` with
    ``alternative="greater", method="asymptotic", use_continuity=False``).
    """
    neg = np.asarray(negative_scores, dtype=np.float64).ravel()
    pos = np.asarray(positive_scores, dtype=np.float64).ravel()
    if neg.size == 0 or pos.size == 0:
        raise ValueError("both score sets need at least one value")
    scores = np.concatenate([pos, neg])
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    _, first, tie_sizes = np.unique(sorted_scores, return_index=True, return_counts=True)
    mid_ranks = first + (tie_sizes + 1) / 2.0
    ranks = np.empty(scores.size)
    ranks[order] = np.repeat(mid_ranks, tie_sizes)
    n1, n0 = pos.size, neg.size
    u = float(ranks[:n1].sum()) - n1 * (n1 + 1) / 2.0
    total = n1 + n0
    ties = float(np.sum(tie_sizes.astype(np.float64) ** 3 - tie_sizes))
    variance = n1 * n0 / 12.0 * ((total + 1) - ties / (total * (total - 1))) if total > 1 else 0.0
    if variance <= 0.0:
        return u / (n1 * n0), 1.0
    return u / (n1 * n0), normal_sf((u - n1 * n0 / 2.0) / math.sqrt(variance))


def _fit_logistic(features: Matrix, labels: npt.NDArray[np.float64], l2: float) -> Matrix:
    """Newton's method on the L2-penalised log-likelihood; the intercept (last column) is not penalised."""
    design = np.hstack([features, np.ones((features.shape[0], 1))])
    weights = np.zeros(design.shape[1])
    penalty = np.full(design.shape[1], l2)
    penalty[-1] = 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(design @ weights)))
        gradient = design.T @ (p - labels) + penalty * weights
        hessian = (design * (p * (1.0 - p))[:, None]).T @ design + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    return weights


def domain_classifier(
    x: npt.ArrayLike, y: npt.ArrayLike, test_fraction: float = 0.3, l2: float = 1.0, seed: int = 0
) -> tuple[float, float]:
    """Held-out AUC of a logistic regression telling ``y`` from ``x``, and its p-value against AUC = 0.5."""
    a, b = _samples(x, y)
    rng = np.random.default_rng(seed)
    train_parts, test_parts = [], []
    for label, sample in ((0.0, a), (1.0, b)):
        shuffled = sample[rng.permutation(sample.shape[0])]
        held_out = max(1, round(test_fraction * sample.shape[0]))
        labelled = np.hstack([shuffled, np.full((sample.shape[0], 1), label)])
        test_parts.append(labelled[:held_out])
        train_parts.append(labelled[held_out:])
    train, test = np.vstack(train_parts), np.vstack(test_parts)
    centre = train[:, :-1].mean(axis=0)
    scale = train[:, :-1].std(axis=0)
    scale[scale == 0.0] = 1.0
    weights = _fit_logistic((train[:, :-1] - centre) / scale, train[:, -1], l2)
    scores = ((test[:, :-1] - centre) / scale) @ weights[:-1]
    return auc_test(scores[test[:, -1] == 0.0], scores[test[:, -1] == 1.0])
