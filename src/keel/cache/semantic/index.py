"""In-process nearest-neighbour search over unit vectors: exact inner product, oldest-first eviction.

``VectorIndex`` keeps its vectors as the rows of one contiguous float32 matrix that doubles as it grows
(up to its capacity) and halves when three quarters are unused, so a search is one matrix product. Removing
a row moves the last row into its place, so the rows stay contiguous and every operation but search is
O(dimensions), amortised.

Search is exact and memory-bound: a lookup reads every row once, about 0.13 ms per 1,000 rows of 384
dimensions on this project's 2-core machine (bench/semantic/lookup.py; 1M rows, 1.5 GB, take 80-130 ms).
``search_many`` answers several queries in one pass over the rows for a fraction of the cost of as many
passes, which is how the cache serves concurrent lookups on a large index. float16 storage would halve the
memory, but numpy converts it back to float32 far slower than it reads float32, so it measured about seven
times slower; it is not offered.

``SemanticIndex`` keeps one ``VectorIndex`` per partition under one shared capacity, evicting the oldest
entry of any partition when full.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Match", "SemanticIndex", "VectorIndex"]

Matrix = npt.NDArray[np.float32]

# Rows scored per step of a search: bounds the temporary score matrix to rows x queries floats.
_CHUNK_ROWS = 65_536
_INITIAL_ROWS = 64


@dataclass(frozen=True)
class Match:
    entry_id: str
    similarity: float


class VectorIndex:
    def __init__(self, dimensions: int, capacity: int) -> None:
        if dimensions < 1:
            raise ValueError("dimensions must be at least 1")
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.dimensions = dimensions
        self.capacity = capacity
        self._rows: Matrix = np.empty((min(_INITIAL_ROWS, capacity), dimensions), dtype=np.float32)
        self._ids: list[str] = []
        # entry id -> row, in insertion order (oldest first).
        self._row_of: OrderedDict[str, int] = OrderedDict()

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, entry_id: object) -> bool:
        return entry_id in self._row_of

    @property
    def nbytes(self) -> int:
        """Memory held for vectors, including room allocated for growth."""
        return self._rows.nbytes

    def add(self, entry_id: str, vector: npt.ArrayLike) -> str | None:
        """Store ``vector`` as ``entry_id`` (replacing an entry of that id); returns the id evicted to make room."""
        row = self._as_row(vector)
        existing = self._row_of.get(entry_id)
        if existing is not None:
            self._rows[existing] = row
            self._row_of.move_to_end(entry_id)
            return None
        evicted = None
        if len(self._ids) >= self.capacity:
            evicted = self.oldest()
            if evicted is not None:
                self.remove(evicted)
        self._grow_for(len(self._ids) + 1)
        self._rows[len(self._ids)] = row
        self._row_of[entry_id] = len(self._ids)
        self._ids.append(entry_id)
        return evicted

    def remove(self, entry_id: str) -> bool:
        """Forget ``entry_id``; returns whether it was present."""
        row = self._row_of.pop(entry_id, None)
        if row is None:
            return False
        last = len(self._ids) - 1
        if row != last:
            moved = self._ids[last]
            self._rows[row] = self._rows[last]
            self._ids[row] = moved
            self._row_of[moved] = row
        self._ids.pop()
        if len(self._rows) > _INITIAL_ROWS and len(self._ids) <= len(self._rows) // 4:
            # Give memory back once the index is a quarter full, so a partition that was once large does
            # not keep its peak allocation; halving (not quartering) keeps growth and shrinkage amortised.
            self._rows = self._rows[: len(self._rows) // 2].copy()
        return True

    def oldest(self) -> str | None:
        return next(iter(self._row_of), None)

    def search(self, vector: npt.ArrayLike, threshold: float) -> Match | None:
        """The entry most similar to ``vector`` if its similarity is at least ``threshold``."""
        return self.search_many(np.asarray(vector, dtype=np.float32).reshape(1, -1), [threshold])[0]

    def search_many(self, vectors: npt.ArrayLike, thresholds: list[float]) -> list[Match | None]:
        """``search`` for each row of ``vectors``, in one pass over the stored rows."""
        queries = np.ascontiguousarray(vectors, dtype=np.float32)
        if queries.ndim != 2 or queries.shape[1] != self.dimensions or len(queries) != len(thresholds):
            raise ValueError(f"expected one threshold per query row of {self.dimensions} values")
        count = len(self._ids)
        if count == 0 or len(queries) == 0:
            return [None] * len(queries)
        best_rows = np.zeros(len(queries), dtype=np.intp)
        best_scores = np.full(len(queries), -np.inf, dtype=np.float32)
        query_numbers = np.arange(len(queries))
        for start in range(0, count, _CHUNK_ROWS):
            # One row of scores per query, so each argmax runs along contiguous memory.
            scores = queries @ self._rows[start : min(start + _CHUNK_ROWS, count)].T
            chunk_best = np.argmax(scores, axis=1)
            chunk_scores = scores[query_numbers, chunk_best]
            better = chunk_scores > best_scores
            best_scores[better] = chunk_scores[better]
            best_rows[better] = chunk_best[better] + start
        return [
            Match(self._ids[int(row)], float(score)) if score >= threshold else None
            for row, score, threshold in zip(best_rows, best_scores, thresholds, strict=True)
        ]

    def _as_row(self, vector: npt.ArrayLike) -> Matrix:
        row = np.asarray(vector, dtype=np.float32)
        if row.shape != (self.dimensions,):
            raise ValueError(f"expected a vector of {self.dimensions} values, got shape {row.shape}")
        return row

    def _grow_for(self, needed: int) -> None:
        if needed <= len(self._rows):
            return
        size = min(max(needed, 2 * len(self._rows)), self.capacity)
        grown = np.empty((size, self.dimensions), dtype=np.float32)
        grown[: len(self._ids)] = self._rows[: len(self._ids)]
        self._rows = grown


class SemanticIndex:
    """One ``VectorIndex`` per partition, sharing ``capacity`` entries in all; oldest-first eviction."""

    def __init__(self, dimensions: int, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.dimensions = dimensions
        self.capacity = capacity
        self._partitions: dict[str, VectorIndex] = {}
        # entry id -> partition, oldest first.
        self._partition_of: OrderedDict[str, str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._partition_of)

    def __contains__(self, entry_id: object) -> bool:
        return entry_id in self._partition_of

    @property
    def nbytes(self) -> int:
        return sum(index.nbytes for index in self._partitions.values())

    def partition(self, name: str) -> VectorIndex | None:
        return self._partitions.get(name)

    def add(self, partition: str, entry_id: str, vector: npt.ArrayLike) -> list[str]:
        """Store ``vector`` as ``entry_id`` in ``partition``; returns the ids evicted to make room."""
        if entry_id in self._partition_of:
            self.remove(entry_id)
        evicted: list[str] = []
        while len(self._partition_of) >= self.capacity:
            oldest = next(iter(self._partition_of))
            self.remove(oldest)
            evicted.append(oldest)
        index = self._partitions.get(partition)
        if index is None:
            index = self._partitions[partition] = VectorIndex(self.dimensions, self.capacity)
        index.add(entry_id, vector)
        self._partition_of[entry_id] = partition
        return evicted

    def remove(self, entry_id: str) -> bool:
        partition = self._partition_of.pop(entry_id, None)
        if partition is None:
            return False
        index = self._partitions[partition]
        index.remove(entry_id)
        if not index:
            del self._partitions[partition]
        return True

    def search(self, partition: str, vector: npt.ArrayLike, threshold: float) -> Match | None:
        index = self._partitions.get(partition)
        return None if index is None else index.search(vector, threshold)
