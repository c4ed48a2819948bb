"""The semantic response cache: a request is answered from a stored answer to a question that means the same.

``keel.cache.semantic.text`` decides which requests qualify and splits each into an exact partition and
the text compared by meaning; ``embedders`` turn text into vectors; ``index`` searches them in process;
``shared`` lets replicas see each other's entries; ``cache`` puts it together. docs/semantic-cache.md
describes the design, the knobs and the measured thresholds.
"""

from __future__ import annotations

from keel.cache.semantic.cache import PromptVector, SemanticCache, SemanticHit
from keel.cache.semantic.embedders import (
    CallableEmbedder,
    Embedder,
    EmbedderUnavailable,
    EmbeddingError,
    HashingEmbedder,
    LocalMiniLM,
    build_embedder,
    recommended_threshold,
)
from keel.cache.semantic.index import Match, SemanticIndex, VectorIndex
from keel.cache.semantic.shared import MemoryEntryStore, RedisEntryStore, SemanticEntry, SemanticEntryStore
from keel.cache.semantic.text import SemanticKey, prompt_text, semantic_key, semantic_partition

__all__ = [
    "CallableEmbedder",
    "Embedder",
    "EmbedderUnavailable",
    "EmbeddingError",
    "HashingEmbedder",
    "LocalMiniLM",
    "Match",
    "MemoryEntryStore",
    "PromptVector",
    "RedisEntryStore",
    "SemanticCache",
    "SemanticEntry",
    "SemanticEntryStore",
    "SemanticHit",
    "SemanticIndex",
    "SemanticKey",
    "VectorIndex",
    "build_embedder",
    "prompt_text",
    "recommended_threshold",
    "semantic_key",
    "semantic_partition",
]
