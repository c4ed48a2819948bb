"""A mergeable quantile sketch with exact counts: logarithmic buckets of fixed relative width.

A value's bucket is ``ceil(log|x| / log(gamma))`` with ``gamma = (1 + a) / (1 - a)`` (the bucketing of
DDSketch, Masson et al. 2019); its sign and a zero bucket for ``|x| < 1e-9`` make the bucket *key* an
integer that orders like the values. The sketch counts values per key, exactly.

Why this and not a compactor (KLL) or a reservoir: the baseline's histogram is built from the same
buckets that chose its edges, so the baseline counts per bin are exact, not estimated. A compactor's
rank error (about 1% at k = 200) would be a systematic difference between the windows that a
Kolmogorov-Smirnov test on a million requests reads as drift. Merging adds counts, so merging two
sketches gives exactly the sketch of the concatenated data, in any order, on any replica.

Accuracy and size: a quantile read back is within relative accuracy ``a`` (1% by default) of a value
whose rank is the requested one, for magnitudes from 1e-9 to 1e15 (larger magnitudes share the top
bucket). Keys run from -2,764 to 2,764 at 1%, so at most 5,529 buckets; the counts array
covers only the occupied range (a feature spanning three decades needs about 350), at 8 bytes a bucket.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

from keel.monitor.drift.codec import decode_array, encode_array

RELATIVE_ACCURACY = 0.01
SMALLEST = 1e-9
LARGEST = 1e15


class BucketKeys:
    """The key arithmetic for one relative accuracy: value to bucket key, key to representative value."""

    def __init__(self, accuracy: float) -> None:
        if not 0.0 < accuracy < 0.5:
            raise ValueError(f"relative accuracy must be in (0, 0.5), got {accuracy}")
        self.gamma = (1.0 + accuracy) / (1.0 - accuracy)
        self.log_gamma = math.log(self.gamma)
        self.first = math.ceil(math.log(SMALLEST) / self.log_gamma)

    def keys(self, values: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        magnitudes = np.abs(values)
        keys = np.zeros(values.shape, dtype=np.int64)
        big = magnitudes >= SMALLEST
        exponents = np.ceil(np.log(np.minimum(magnitudes[big], LARGEST)) / self.log_gamma)
        keys[big] = (exponents.astype(np.int64) - self.first + 1) * np.sign(values[big]).astype(np.int64)
        return keys

    def key(self, value: float) -> int:
        magnitude = abs(value)
        if magnitude < SMALLEST:
            return 0
        exponent = math.ceil(math.log(min(magnitude, LARGEST)) / self.log_gamma)
        return int(math.copysign(exponent - self.first + 1, value))

    def value(self, key: int) -> float:
        """The bucket's representative: within the relative accuracy of every value in the bucket."""
        if key == 0:
            return 0.0
        exponent = abs(key) + self.first - 1
        return math.copysign(2.0 * self.gamma**exponent / (self.gamma + 1.0), key)


class QuantileSketch:
    """Counts per logarithmic bucket, plus count, sum, min and max: see the module docstring."""

    __slots__ = ("_buckets", "_counts", "_offset", "accuracy", "count", "maximum", "minimum", "total")

    def __init__(self, accuracy: float = RELATIVE_ACCURACY) -> None:
        self.accuracy = accuracy
        self._buckets = BucketKeys(accuracy)
        self._offset = 0  # the key of _counts[0]
        self._counts = np.zeros(0, dtype=np.int64)
        self.count = 0
        self.total = 0.0
        self.minimum = math.inf
        self.maximum = -math.inf

    def _cover(self, low: int, high: int) -> None:
        """Grow the counts array so that it spans keys low..high."""
        if self._counts.size == 0:
            self._offset = low
            self._counts = np.zeros(high - low + 1, dtype=np.int64)
            return
        new_low = min(low, self._offset)
        new_high = max(high, self._offset + self._counts.size - 1)
        if new_low == self._offset and new_high == self._offset + self._counts.size - 1:
            return
        grown = np.zeros(new_high - new_low + 1, dtype=np.int64)
        start = self._offset - new_low
        grown[start : start + self._counts.size] = self._counts
        self._offset, self._counts = new_low, grown

    def add(self, value: float) -> None:
        if not math.isfinite(value):
            return
        key = self._buckets.key(value)
        self._cover(key, key)
        self._counts[key - self._offset] += 1
        self.count += 1
        self.total += value
        self.minimum = min(self.minimum, value)
        self.maximum = max(self.maximum, value)

    def add_many(self, values: Iterable[float] | npt.NDArray[np.float64]) -> None:
        array = np.asarray(values, dtype=np.float64).ravel()
        array = array[np.isfinite(array)]
        if array.size == 0:
            return
        keys = self._buckets.keys(array)
        low, high = int(keys.min()), int(keys.max())
        self._cover(low, high)
        start = low - self._offset
        self._counts[start : start + high - low + 1] += np.bincount(keys - low, minlength=high - low + 1)
        self.count += int(array.size)
        self.total += float(array.sum())
        self.minimum = min(self.minimum, float(array.min()))
        self.maximum = max(self.maximum, float(array.max()))

    def merge(self, other: QuantileSketch) -> None:
        if other.accuracy != self.accuracy:
            raise ValueError(f"cannot merge quantile sketches of accuracy {self.accuracy} and {other.accuracy}")
        if other.count == 0:
            return
        self._cover(other._offset, other._offset + other._counts.size - 1)
        start = other._offset - self._offset
        self._counts[start : start + other._counts.size] += other._counts
        self.count += other.count
        self.total += other.total
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)

    def quantile_keys(self, probabilities: Iterable[float]) -> npt.NDArray[np.int64]:
        """For each p, the key of the bucket holding the first value ranked above p * count."""
        if self.count == 0:
            raise ValueError("an empty sketch has no quantiles")
        cumulative = np.cumsum(self._counts)
        targets = np.asarray(list(probabilities), dtype=np.float64) * self.count
        positions = np.minimum(np.searchsorted(cumulative, targets, side="right"), self._counts.size - 1)
        return (positions + self._offset).astype(np.int64)

    def quantile(self, probability: float) -> float:
        """A value within the relative accuracy of the sample's ``probability`` quantile."""
        key = int(self.quantile_keys([probability])[0])
        return min(self.maximum, max(self.minimum, self._buckets.value(key)))

    def max_key(self) -> int:
        if self.count == 0:
            raise ValueError("an empty sketch has no largest key")
        return self._offset + self._counts.size - 1

    def histogram(self, edges: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Exact counts per bin for key edges: bin i holds keys k with edges[i-1] <= k < edges[i]."""
        out = np.zeros(edges.size + 1, dtype=np.int64)
        keys = np.arange(self._offset, self._offset + self._counts.size, dtype=np.int64)
        np.add.at(out, np.searchsorted(edges, keys, side="right"), self._counts)
        return out

    @property
    def buckets(self) -> int:
        """Buckets held in memory."""
        return int(self._counts.size)

    def to_dict(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy,
            "offset": self._offset,
            "counts": encode_array(self._counts),
            "count": self.count,
            "total": self.total,
            "min": self.minimum if self.count else None,
            "max": self.maximum if self.count else None,
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> QuantileSketch:
        sketch = cls(float(state["accuracy"]))
        sketch._offset = int(state["offset"])
        sketch._counts = decode_array(state["counts"]).astype(np.int64)
        sketch.count = int(state["count"])
        sketch.total = float(state["total"])
        if sketch.count:
            sketch.minimum = float(state["min"])
            sketch.maximum = float(state["max"])
        return sketch
