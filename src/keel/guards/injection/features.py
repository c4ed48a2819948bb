"""Hashed n-gram features of normalised text, shared by the classifier, the attack corpus and training.

Character 3-5-grams catch templates and spellings whatever the tokenisation; word uni- and bigrams catch
phrasing. Each n-gram is hashed into ``DIMENSIONS`` buckets with a fixed polynomial hash and a 64-bit mixing
step computed in numpy over the whole text at once: deterministic across processes and platforms, unlike
Python's per-process salted ``hash()``, and fast enough for a 4,000-character prompt in about a millisecond.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

DIMENSIONS = 1 << 18
CHAR_NGRAMS = (3, 4, 5)

_PRIME = np.uint64(0x100000001B3)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_MASK = np.uint64(DIMENSIONS - 1)
_WORD_SEED = np.uint64(0x9E3779B97F4A7C15)
_BIGRAM_SEED = np.uint64(0xC2B2AE3D27D4EB4F)
# Word characters: ASCII letters, digits and underscore, and every code point from U+00C0 up except the
# general and CJK punctuation blocks. Decided per code point in numpy, so word splitting needs no regex.
_ASCII_WORD = np.zeros(128, dtype=bool)
for _c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_":
    _ASCII_WORD[ord(_c)] = True
# A fixed odd multiplier per position in a word (positions past 63 share the last one).
_POSITION_KEYS = np.cumprod(np.full(64, _PRIME, dtype=np.uint64)) | np.uint64(1)

Indices = npt.NDArray[np.int32]
Weights = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class SparseVector:
    """Sorted unique bucket indices with their weights."""

    indices: Indices
    values: Weights

    def dot(self, dense: npt.NDArray[np.float32]) -> float:
        return float(np.dot(dense[self.indices], self.values))


def ngram_counts(text: str) -> tuple[Indices, npt.NDArray[np.int64]]:
    """Bucket indices of every n-gram in ``text``, sorted, with how often each bucket occurs."""
    codes = np.frombuffer(f" {text} ".encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    parts = [_char_hashes(codes), *_word_hashes(codes)]
    buckets = np.sort((np.concatenate(parts) & _MASK).astype(np.int32))
    if len(buckets) == 0:
        return buckets, np.zeros(0, dtype=np.int64)
    first = np.ones(len(buckets), dtype=bool)
    np.not_equal(buckets[1:], buckets[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    return buckets[starts], np.diff(np.append(starts, len(buckets)))


def tfidf(text: str, idf: npt.NDArray[np.float32]) -> SparseVector:
    """Sublinear term frequency times ``idf``, scaled to unit length (all zeros for empty text)."""
    indices, counts = ngram_counts(text)
    values = ((1.0 + np.log(counts)) * idf[indices]).astype(np.float32)
    norm = float(np.linalg.norm(values))
    if norm > 0.0:
        values /= norm
    return SparseVector(indices=indices, values=values)


def _mix(h: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """The splitmix64 finaliser: spreads polynomial hashes evenly over the low bits used as buckets."""
    h = h ^ (h >> np.uint64(30))
    h = h * _MIX_1
    h = h ^ (h >> np.uint64(27))
    h = h * _MIX_2
    return h ^ (h >> np.uint64(31))


def _char_hashes(codes: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    out: list[npt.NDArray[np.uint64]] = []
    for n in CHAR_NGRAMS:
        count = len(codes) - n + 1
        if count <= 0:
            continue
        h = np.full(count, np.uint64(n), dtype=np.uint64)
        for k in range(n):
            h = h * _PRIME + codes[k : k + count]
        out.append(_mix(h))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.uint64)


def _word_hashes(codes: npt.NDArray[np.uint64]) -> list[npt.NDArray[np.uint64]]:
    ascii_codes = np.minimum(codes, np.uint64(127)).astype(np.intp)
    is_word = np.where(
        codes < 128, _ASCII_WORD[ascii_codes], (codes >= 0xC0) & ~((codes >= 0x2000) & (codes < 0x2070))
    ) & ~((codes >= 0x3000) & (codes < 0x3040))
    positions = np.flatnonzero(is_word)
    if len(positions) == 0:
        return []
    # A word starts where a word character does not follow another one.
    first = np.ones(len(positions), dtype=bool)
    first[1:] = positions[1:] != positions[:-1] + 1
    starts = np.flatnonzero(first)
    offset = np.arange(len(positions)) - np.repeat(starts, np.diff(np.append(starts, len(positions))))
    keyed = codes[positions] * _POSITION_KEYS[np.minimum(offset, 63)]
    unigrams = _mix(np.add.reduceat(keyed, starts) ^ _WORD_SEED)
    if len(unigrams) < 2:
        return [unigrams]
    bigrams = _mix((unigrams[:-1] * _PRIME + unigrams[1:]) ^ _BIGRAM_SEED)
    return [unigrams, bigrams]
