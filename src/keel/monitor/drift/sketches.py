"""Fixed-size, mergeable summaries of one window of traffic: a binned histogram and category counts.

* ``NumericSketch``: counts in bins whose edges are the baseline's quantiles (``bins`` quantile bins
  plus one open bin below the baseline's smallest value and one at or above its largest), with count,
  sum, min and max. Edges are bucket keys of a ``QuantileSketch``, so the current window and the
  baseline bin every value the same way, and the baseline's counts come out exact.
* ``CategoricalSketch``: a count per category for the first ``max_categories`` categories seen, and one
  ``__other__`` count for the rest; counts are exact for the categories it holds.

Both merge by adding counts (histograms must have identical edges) and serialise to JSON-able dicts.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

from keel.monitor.drift.codec import decode_array, encode_array
from keel.monitor.drift.quantiles import BucketKeys, QuantileSketch

OTHER = "__other__"
DEFAULT_BINS = 20
DEFAULT_MAX_CATEGORIES = 50


class SketchMismatch(ValueError):
    """Two sketches that cannot be merged or compared: different edges, accuracy or shape."""


class NumericSketch:
    """A histogram on fixed bucket-key edges: see the module docstring."""

    __slots__ = ("_keys", "accuracy", "count", "counts", "edges", "maximum", "minimum", "total")

    def __init__(self, edges: npt.NDArray[np.int64], accuracy: float) -> None:
        self.edges = np.asarray(edges, dtype=np.int64)
        if self.edges.ndim != 1 or np.any(np.diff(self.edges) <= 0):
            raise ValueError("histogram edges must be strictly increasing")
        self.accuracy = accuracy
        self._keys = BucketKeys(accuracy)
        self.counts = np.zeros(self.edges.size + 1, dtype=np.int64)
        self.count = 0
        self.total = 0.0
        self.minimum = math.inf
        self.maximum = -math.inf

    @classmethod
    def from_baseline(cls, baseline: QuantileSketch, bins: int = DEFAULT_BINS) -> NumericSketch:
        """Edges at the baseline's quantiles 0, 1/bins, ..., (bins-1)/bins and just above its largest
        value; the counts are the baseline's own, exact (ties merge bins, so a discrete feature gets one
        bin per value when it has fewer than ``bins`` values)."""
        if bins < 1:
            raise ValueError(f"bins must be at least 1, got {bins}")
        starts = baseline.quantile_keys(np.arange(bins) / bins)
        edges = np.unique(np.append(starts, baseline.max_key() + 1))
        sketch = cls(edges, baseline.accuracy)
        sketch.counts = baseline.histogram(edges)
        sketch.count = baseline.count
        sketch.total = baseline.total
        sketch.minimum = baseline.minimum
        sketch.maximum = baseline.maximum
        return sketch

    def empty_like(self) -> NumericSketch:
        return NumericSketch(self.edges, self.accuracy)

    def add(self, value: float) -> None:
        if not math.isfinite(value):
            return
        self.counts[int(np.searchsorted(self.edges, self._keys.key(value), side="right"))] += 1
        self.count += 1
        self.total += value
        self.minimum = min(self.minimum, value)
        self.maximum = max(self.maximum, value)

    def add_many(self, values: Iterable[float] | npt.NDArray[np.float64]) -> None:
        array = np.asarray(values, dtype=np.float64).ravel()
        array = array[np.isfinite(array)]
        if array.size == 0:
            return
        bins = np.searchsorted(self.edges, self._keys.keys(array), side="right")
        self.counts += np.bincount(bins, minlength=self.counts.size)
        self.count += int(array.size)
        self.total += float(array.sum())
        self.minimum = min(self.minimum, float(array.min()))
        self.maximum = max(self.maximum, float(array.max()))

    def check_compatible(self, other: NumericSketch) -> None:
        if self.accuracy != other.accuracy or not np.array_equal(self.edges, other.edges):
            raise SketchMismatch("histograms have different edges; build both from the same baseline")

    def merge(self, other: NumericSketch) -> None:
        self.check_compatible(other)
        self.counts += other.counts
        self.count += other.count
        self.total += other.total
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "edges": encode_array(self.edges),
            "accuracy": self.accuracy,
            "counts": encode_array(self.counts),
            "count": self.count,
            "total": self.total,
            "min": self.minimum if self.count else None,
            "max": self.maximum if self.count else None,
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> NumericSketch:
        sketch = cls(decode_array(state["edges"]).astype(np.int64), float(state["accuracy"]))
        counts = decode_array(state["counts"]).astype(np.int64)
        if counts.shape != sketch.counts.shape:
            raise SketchMismatch("histogram state has counts that do not fit its edges")
        sketch.counts = counts
        sketch.count = int(state["count"])
        sketch.total = float(state["total"])
        if sketch.count:
            sketch.minimum = float(state["min"])
            sketch.maximum = float(state["max"])
        return sketch


class CategoricalSketch:
    """Exact counts for the first ``max_categories`` categories, the rest pooled as ``__other__``."""

    __slots__ = ("counts", "max_categories", "other")

    def __init__(self, max_categories: int = DEFAULT_MAX_CATEGORIES) -> None:
        if max_categories < 1:
            raise ValueError(f"max_categories must be at least 1, got {max_categories}")
        self.max_categories = max_categories
        self.counts: dict[str, int] = {}
        self.other = 0

    def empty_like(self) -> CategoricalSketch:
        """Zero counts for the same categories, so that a later window counts them explicitly too."""
        sketch = CategoricalSketch(self.max_categories)
        sketch.counts = dict.fromkeys(self.counts, 0)
        return sketch

    def add(self, value: str, times: int = 1) -> None:
        if value in self.counts:
            self.counts[value] += times
        elif len(self.counts) < self.max_categories:
            self.counts[value] = times
        else:
            self.other += times

    def add_many(self, values: Iterable[str]) -> None:
        # Counter keeps first-seen order, so the same categories are admitted as by repeated add().
        for value, times in Counter(values).items():
            self.add(value, times)

    def merge(self, other: CategoricalSketch) -> None:
        """Add counts; past ``max_categories`` the smallest categories (ties by name) join ``__other__``."""
        if other.max_categories != self.max_categories:
            raise SketchMismatch("category sketches hold different numbers of categories")
        merged = Counter(self.counts)
        merged.update(other.counts)
        self.other += other.other
        if len(merged) > self.max_categories:
            ranked = sorted(merged.items(), key=lambda item: (-item[1], item[0]))
            self.other += sum(count for _, count in ranked[self.max_categories :])
            keep = {name for name, _ in ranked[: self.max_categories]}
            merged = Counter({name: count for name, count in merged.items() if name in keep})
        self.counts = {name: merged[name] for name in [*self.counts, *other.counts] if name in merged}

    @property
    def count(self) -> int:
        return sum(self.counts.values()) + self.other

    def to_dict(self) -> dict[str, Any]:
        return {"max_categories": self.max_categories, "counts": dict(self.counts), "other": self.other}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> CategoricalSketch:
        sketch = cls(int(state["max_categories"]))
        sketch.counts = {str(name): int(count) for name, count in state["counts"].items()}
        sketch.other = int(state["other"])
        return sketch


def aligned_counts(
    first: CategoricalSketch, second: CategoricalSketch
) -> tuple[list[str], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Both windows' counts over one list of categories.

    A category one window holds and the other does not is counted as zero in the other when that window
    pooled nothing in ``__other__`` (it really never saw it: a new or vanished category); otherwise its
    count there is unknown, so it is pooled into ``__other__`` on both sides.
    """
    first_counts, second_counts = dict(first.counts), dict(second.counts)
    first_other, second_other = first.other, second.other
    for name in list(first_counts):
        if name not in second_counts:
            if second.other:
                first_other += first_counts.pop(name)
            else:
                second_counts[name] = 0
    for name in list(second_counts):
        if name not in first_counts:
            if first.other:
                second_other += second_counts.pop(name)
            else:
                first_counts[name] = 0
    labels = sorted(first_counts)
    if first_other or second_other:
        labels.append(OTHER)
        first_counts[OTHER], second_counts[OTHER] = first_other, second_other
    return (
        labels,
        np.array([first_counts[name] for name in labels], dtype=np.int64),
        np.array([second_counts[name] for name in labels], dtype=np.int64),
    )
