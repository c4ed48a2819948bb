"""A fixed-size uniform sample of prompt embeddings, with their running mean, for embedding drift tests.

Reservoir sampling (Vitter's algorithm R): the t-th vector (counting from 0) replaces slot j when
j = hash(seed, t) mod (t + 1) falls inside the reservoir. The random choice is a pure function of the
seed and the position, so a replay gives the same sample and the state is just the sample and a count.

Merging two reservoirs of n1 and n2 vectors draws how many to keep from each from the hypergeometric
law (as a uniform sample of the union would) and subsamples each side uniformly, with a generator
seeded from (seed, n1, n2): the result is a uniform sample of the union. The mean merges exactly.

Memory: ``size * dim`` float32 values (512 x 384 is 768 KiB) and ``dim`` float64 sums.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from keel.monitor.drift.codec import decode_array, encode_array
from keel.monitor.drift.sketches import SketchMismatch

DEFAULT_RESERVOIR = 512
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _splitmix(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """SplitMix64's finaliser: a cheap, well-mixed 64-bit hash (array arithmetic wraps modulo 2^64)."""
    z = values + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


class EmbeddingSketch:
    """A reservoir of at most ``size`` embeddings and the sum of all of them: see the module docstring."""

    __slots__ = ("_sample", "_sum", "dim", "seed", "seen", "size")

    def __init__(self, dim: int, size: int = DEFAULT_RESERVOIR, seed: int = 0) -> None:
        if dim < 1 or size < 1:
            raise ValueError(f"an embedding sketch needs dim >= 1 and size >= 1, got {dim} and {size}")
        self.dim = dim
        self.size = size
        self.seed = seed
        self.seen = 0
        self._sample = np.zeros((0, dim), dtype=np.float32)
        self._sum = np.zeros(dim, dtype=np.float64)

    def empty_like(self) -> EmbeddingSketch:
        return EmbeddingSketch(self.dim, self.size, self.seed)

    def _rows(self, vectors: npt.ArrayLike) -> npt.NDArray[np.float32]:
        rows = np.asarray(vectors, dtype=np.float32)
        rows = rows.reshape(1, -1) if rows.ndim == 1 else rows
        if rows.ndim != 2 or rows.shape[1] != self.dim:
            raise SketchMismatch(f"embeddings must have {self.dim} dimensions, got shape {rows.shape}")
        return rows

    def add(self, vector: npt.ArrayLike) -> None:
        self.add_many(vector)

    def add_many(self, vectors: npt.ArrayLike) -> None:
        rows = self._rows(vectors)
        rows = rows[np.all(np.isfinite(rows), axis=1)]
        if rows.shape[0] == 0:
            return
        self._sum += rows.sum(axis=0, dtype=np.float64)
        free = max(0, min(rows.shape[0], self.size - self._sample.shape[0]))
        if free:
            self._sample = np.concatenate([self._sample, rows[:free]])
        rest = rows[free:]
        if rest.shape[0]:
            positions = np.arange(self.seen + free, self.seen + rows.shape[0], dtype=np.uint64)
            slots = _splitmix(positions ^ _splitmix(np.array([self.seed], dtype=np.uint64))) % (
                positions + np.uint64(1)
            )
            chosen = np.flatnonzero(slots < np.uint64(self.size))
            if chosen.size:
                # A slot hit twice in one batch keeps the later vector, as one-by-one insertion would.
                targets = slots[chosen].astype(np.int64)
                _, last_in_reversed = np.unique(targets[::-1], return_index=True)
                keep = chosen[chosen.size - 1 - last_in_reversed]
                self._sample[targets[chosen.size - 1 - last_in_reversed]] = rest[keep]
        self.seen += int(rows.shape[0])

    def merge(self, other: EmbeddingSketch) -> None:
        if (other.dim, other.size) != (self.dim, self.size):
            raise SketchMismatch("embedding sketches differ in dimension or reservoir size")
        total = self.seen + other.seen
        if total <= self.size:
            self._sample = np.concatenate([self._sample, other._sample])
        elif other.seen:
            rng = np.random.default_rng([self.seed, self.seen, other.seen])
            keep = min(self.size, total)
            from_self = int(rng.hypergeometric(self.seen, other.seen, keep)) if self.seen else 0
            mine = rng.choice(self._sample.shape[0], size=from_self, replace=False)
            theirs = rng.choice(other._sample.shape[0], size=keep - from_self, replace=False)
            self._sample = np.concatenate([self._sample[np.sort(mine)], other._sample[np.sort(theirs)]])
        self._sum += other._sum
        self.seen = total

    @property
    def sample(self) -> npt.NDArray[np.float32]:
        """The reservoir: a uniform sample (without replacement) of every embedding added."""
        return self._sample

    @property
    def mean(self) -> npt.NDArray[np.float64]:
        return self._sum / self.seen if self.seen else np.zeros(self.dim)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dim": self.dim,
            "size": self.size,
            "seed": self.seed,
            "seen": self.seen,
            "sample": encode_array(self._sample),
            "sum": encode_array(self._sum),
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> EmbeddingSketch:
        sketch = cls(int(state["dim"]), int(state["size"]), int(state["seed"]))
        sketch.seen = int(state["seen"])
        sketch._sample = decode_array(state["sample"]).astype(np.float32).reshape(-1, sketch.dim)
        sketch._sum = decode_array(state["sum"]).astype(np.float64)
        return sketch
