"""The exact response cache: identical requests on a route are answered from a stored answer."""

from __future__ import annotations

from keel.cache.config import CacheConfig, CacheStoreConfig, SemanticStoreConfig
from keel.cache.key import cache_key, cacheable
from keel.cache.memory import MemoryResponseCache
from keel.cache.redis_cache import RedisResponseCache
from keel.cache.semantic import (
    MemoryEntryStore,
    RedisEntryStore,
    SemanticCache,
    SemanticEntryStore,
    build_embedder,
)
from keel.cache.sqlite import SqliteResponseCache
from keel.cache.store import CachedAnswer, ResponseCache, as_body, as_chunks
from keel.core.clock import Clock

__all__ = [
    "CacheConfig",
    "CacheStoreConfig",
    "CachedAnswer",
    "MemoryResponseCache",
    "RedisResponseCache",
    "ResponseCache",
    "SqliteResponseCache",
    "as_body",
    "as_chunks",
    "build_cache",
    "build_semantic_cache",
    "cache_key",
    "cacheable",
]


def build_semantic_cache(config: SemanticStoreConfig, store: CacheStoreConfig, clock: Clock) -> SemanticCache:
    """The semantic cache every route with ``semantic_cache`` shares; entries in Redis when ``shared: redis``."""
    entries: SemanticEntryStore
    if config.shared == "redis":
        entries = RedisEntryStore(store.redis_url, store.key_prefix, max_entries=config.capacity)
    else:
        entries = MemoryEntryStore(config.capacity)
    return SemanticCache(
        build_embedder(config.embedder),
        entries,
        capacity=config.capacity,
        poll_interval_s=config.poll_interval_s,
        clock=clock,
    )


def build_cache(config: CacheStoreConfig, clock: Clock) -> ResponseCache:
    if config.backend == "sqlite":
        return SqliteResponseCache(config.path, clock=clock)
    if config.backend == "redis":
        return RedisResponseCache(config.redis_url, config.key_prefix)
    return MemoryResponseCache(config.max_entries, clock)
