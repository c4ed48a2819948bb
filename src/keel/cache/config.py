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
