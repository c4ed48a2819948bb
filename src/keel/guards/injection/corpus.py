"""Resemblance to known attack prompts: how much of a known attack passage a prompt contains.

The corpus holds the attack prompts of the training split (sources and licences in ``data/SOURCES.md``),
cut into passages of a few sentences, near-duplicates merged. Each passage keeps its
``TERMS_PER_PASSAGE`` heaviest tf-idf n-gram buckets, rescaled so their squared weights sum to one: that
is the passage's "mass". A prompt's score against a passage is the share of that mass whose buckets the
prompt also holds, so a prompt that pastes a known jailbreak paragraph scores near 1 however much other
text surrounds it, while one that shares only common phrasing scores low. Measuring containment of
passages rather than cosine of whole prompts is what lets an excerpt of a long template, or a template
buried in a long message, still be recognised.

The passages are stored as an inverted index, so a query touches only the buckets it contains.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from keel.guards.injection.features import DIMENSIONS, SparseVector

TERMS_PER_PASSAGE = 64
PASSAGE_CHARS = (80, 320)
_SENTENCE_END = re.compile(r"(?<=[.!?:;])\s+|\n+")


@dataclass(frozen=True, slots=True)
class AttackCorpus:
    """Known attack passages as an inverted index: for each hash bucket, the passages holding it and its mass."""

    size: int
    postings_start: npt.NDArray[np.int64]
    """``postings_start[b]:postings_start[b + 1]`` are the postings of bucket ``b``."""
    passage_of: npt.NDArray[np.int32]
    mass_of: npt.NDArray[np.float32]

    @classmethod
    def from_vectors(cls, vectors: list[SparseVector]) -> AttackCorpus:
        """Index passages given as unit-length vectors (see ``truncate``)."""
        if not vectors:
            raise ValueError("an attack corpus needs at least one passage")
        buckets = np.concatenate([v.indices for v in vectors]).astype(np.int64)
        passages = np.concatenate([np.full(len(v.indices), i, dtype=np.int32) for i, v in enumerate(vectors)])
        masses = np.concatenate([v.values for v in vectors]).astype(np.float32) ** 2
        order = np.argsort(buckets, kind="stable")
        starts = np.zeros(DIMENSIONS + 1, dtype=np.int64)
        np.cumsum(np.bincount(buckets, minlength=DIMENSIONS), out=starts[1:])
        return cls(size=len(vectors), postings_start=starts, passage_of=passages[order], mass_of=masses[order])

    @classmethod
    def load(cls, path: Path) -> AttackCorpus:
        """Read the passages' vectors, stored row by row (CSR: ``corpus_row_start``, ``_bucket``, ``_weight``)."""
        with np.load(path) as data:
            row_start = data["corpus_row_start"].astype(np.int64)
            buckets = data["corpus_bucket"].astype(np.int32)
            weights = data["corpus_weight"].astype(np.float32)
        vectors = [SparseVector(indices=buckets[a:b], values=weights[a:b]) for a, b in itertools.pairwise(row_start)]
        return cls.from_vectors(vectors)

    def containment(self, query: SparseVector) -> npt.NDArray[np.float64]:
        """For every passage, the share of its mass found among the buckets of ``query``."""
        starts = self.postings_start[query.indices]
        lengths = self.postings_start[query.indices + 1] - starts
        total = int(lengths.sum())
        if total == 0:
            return np.zeros(self.size)
        # Positions of every posting of every query bucket, gathered without a Python loop.
        offsets = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths) + np.arange(total)
        sums = np.bincount(self.passage_of[offsets], weights=self.mass_of[offsets], minlength=self.size)
        return np.asarray(sums, dtype=np.float64)

    def max_containment(self, query: SparseVector) -> float:
        return float(self.containment(query).max())


def passages(text: str) -> Iterator[str]:
    """Consecutive sentences of ``text`` grouped into passages of about ``PASSAGE_CHARS`` characters.

    A text shorter than a passage is one passage; a trailing remainder too short to stand alone is dropped.
    """
    low, high = PASSAGE_CHARS
    if len(text) < low:
        if text.strip():
            yield text.strip()
        return
    current = ""
    for sentence in _SENTENCE_END.split(text):
        if current and len(current) + len(sentence) > high:
            yield current
            current = ""
        current = f"{current} {sentence}" if current else sentence[:high]
    if len(current) >= low:
        yield current


def truncate(vector: SparseVector, terms: int = TERMS_PER_PASSAGE) -> SparseVector:
    """The ``terms`` heaviest buckets of ``vector``, in bucket order, rescaled to unit length."""
    if len(vector.indices) > terms:
        keep = np.sort(np.argpartition(-vector.values, terms - 1)[:terms])
        vector = SparseVector(indices=vector.indices[keep], values=vector.values[keep])
    norm = float(np.linalg.norm(vector.values))
    values = vector.values / norm if norm > 0 else vector.values
    return SparseVector(indices=vector.indices, values=values.astype(np.float32))
