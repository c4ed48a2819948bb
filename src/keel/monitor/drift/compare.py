"""One report row per feature: run the feature kind's test and apply the decision rule.

The rule, with the defaults of ``DriftConfig``:

* numeric (binned Kolmogorov-Smirnov) and categorical (chi-square) features drift when the p-value is
  below 0.001 *and* PSI is at least 0.1. On big windows a p-value alone flags differences too small to
  matter, and on small ones PSI alone flags noise (its expected value under no drift is about
  (bins - 1)(1/n + 1/m), 0.04 for 22 bins and 1,000 samples a side); requiring both keeps the false
  alarm rate below 0.1% per feature and the change worth a look;
* embeddings drift when the MMD permutation p-value (or the domain classifier's) is below 0.001: the
  reservoirs cap both samples at a few hundred vectors, so a significant result is also a sizeable one;
* a field seen in only one window (new or gone) is compared by the share of requests carrying it
  (2 x 2 chi-square and PSI over present/absent), with the same rule;
* below the minimum samples in either window (1,000 of the feature, or of requests for presence; 200
  for embeddings and topics) the verdict is "not enough data", whatever the statistics say.
"""

from __future__ import annotations

import numpy as np

from keel.monitor.drift.config import DriftConfig
from keel.monitor.drift.embedding_stats import domain_classifier, mmd_rbf
from keel.monitor.drift.report import DRIFT, NO_DRIFT, NOT_ENOUGH_DATA, FeatureDrift
from keel.monitor.drift.reservoir import EmbeddingSketch
from keel.monitor.drift.sketches import CategoricalSketch, NumericSketch, aligned_counts
from keel.monitor.drift.stats import chi_square, ks_2samp_binned, psi, psi_band

TOPIC = "topic"
EMBEDDING = "embedding"


def describe_rule(config: DriftConfig) -> str:
    return (
        f"drift when p < {config.p_threshold:g} and PSI >= {config.psi_threshold:g} (numeric: binned KS; "
        f"categorical and presence: chi-square); embeddings: {config.embedding_test} p < {config.p_threshold:g}; "
        f"at least {config.min_samples} samples in each window "
        f"({config.min_embedding_samples} for embeddings and topics)"
    )


def _tested(
    config: DriftConfig,
    name: str,
    kind: str,
    test: str,
    outcome: tuple[float, float, float],
    samples: tuple[int, int],
    enough: bool,
    means: tuple[float | None, float | None] = (None, None),
) -> FeatureDrift:
    statistic, pvalue, index = outcome
    significant = pvalue < config.p_threshold and index >= config.psi_threshold
    verdict = (DRIFT if significant else NO_DRIFT) if enough else NOT_ENOUGH_DATA
    return FeatureDrift(
        feature=name,
        kind=kind,
        test=test,
        statistic=statistic,
        pvalue=pvalue,
        psi=index,
        band=psi_band(index),
        baseline_samples=samples[0],
        current_samples=samples[1],
        verdict=verdict,
        baseline_mean=means[0],
        current_mean=means[1],
    )


def numeric_row(config: DriftConfig, name: str, baseline: NumericSketch, current: NumericSketch) -> FeatureDrift:
    statistic, pvalue = ks_2samp_binned(baseline.counts, current.counts)
    return _tested(
        config,
        name,
        "numeric",
        "ks",
        (statistic, pvalue, psi(baseline.counts, current.counts)),
        (baseline.count, current.count),
        min(baseline.count, current.count) >= config.min_samples,
        (baseline.mean, current.mean),
    )


def categorical_row(
    config: DriftConfig, name: str, baseline: CategoricalSketch, current: CategoricalSketch
) -> FeatureDrift:
    _, first, second = aligned_counts(baseline, current)
    statistic, pvalue, _ = chi_square(first, second)
    minimum = config.min_embedding_samples if name == TOPIC else config.min_samples
    return _tested(
        config,
        name,
        "categorical",
        "chi2",
        (statistic, pvalue, psi(first, second)),
        (baseline.count, current.count),
        min(baseline.count, current.count) >= minimum,
    )


def presence_row(
    config: DriftConfig, name: str, kind: str, present: tuple[int, int], requests: tuple[int, int]
) -> FeatureDrift:
    """A field carried by requests of one window only: compare the share of requests that carry it."""
    if min(requests) == 0:
        return FeatureDrift(name, kind, None, None, None, None, None, present[0], present[1], NOT_ENOUGH_DATA)
    first = np.array([present[0], max(0, requests[0] - present[0])])
    second = np.array([present[1], max(0, requests[1] - present[1])])
    statistic, pvalue, _ = chi_square(first, second)
    return _tested(
        config,
        name,
        kind,
        "presence",
        (statistic, pvalue, psi(first, second)),
        present,
        min(requests) >= config.min_samples,
    )


def embedding_row(
    config: DriftConfig, baseline: EmbeddingSketch | None, current: EmbeddingSketch | None
) -> FeatureDrift:
    seen = (baseline.seen if baseline else 0, current.seen if current else 0)
    if baseline is None or current is None or min(seen) < config.min_embedding_samples:
        return FeatureDrift(EMBEDDING, "embedding", None, None, None, None, None, seen[0], seen[1], NOT_ENOUGH_DATA)
    if config.embedding_test == "mmd":
        statistic, pvalue = mmd_rbf(baseline.sample, current.sample, permutations=config.permutations, seed=config.seed)
    else:
        statistic, pvalue = domain_classifier(baseline.sample, current.sample, seed=config.seed)
    verdict = DRIFT if pvalue < config.p_threshold else NO_DRIFT
    return FeatureDrift(
        EMBEDDING, "embedding", config.embedding_test, statistic, pvalue, None, None, seen[0], seen[1], verdict
    )
