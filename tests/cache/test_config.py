"""Cache configuration sections and the store they build."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from keel.cache import CacheConfig, CacheStoreConfig, build_cache
from keel.cache.memory import MemoryResponseCache
from keel.cache.redis_cache import RedisResponseCache
from keel.cache.sqlite import SqliteResponseCache
from tests.clocks import ManualClock


def test_defaults() -> None:
    route = CacheConfig()
    assert (route.enabled, route.ttl_s, route.only_deterministic, route.max_entry_bytes) == (
        False,
        3600.0,
        False,
        1_000_000,
    )
    store = CacheStoreConfig()
    assert (store.backend, store.path, store.key_prefix, store.max_entries) == (
        "memory",
        ".keel/cache.db",
        "keel",
        10000,
    )


@pytest.mark.parametrize(
    "raw",
    [{"ttl_s": 0}, {"ttl_s": -1.0}, {"enabled": "yes"}, {"max_entry_bytes": 0}, {"unknown": 1}],
)
def test_invalid_route_config_is_rejected(raw: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        CacheConfig.model_validate(raw)


def test_invalid_store_config_is_rejected() -> None:
    with pytest.raises(ValidationError):
        CacheStoreConfig.model_validate({"backend": "memcached"})
    with pytest.raises(ValidationError):
        CacheStoreConfig.model_validate({"max_entries": 0})


async def test_build_cache_picks_the_backend(tmp_path: Path) -> None:
    clock = ManualClock()
    assert isinstance(build_cache(CacheStoreConfig(), clock), MemoryResponseCache)
    sqlite = build_cache(CacheStoreConfig(backend="sqlite", path=str(tmp_path / "c.db")), clock)
    assert isinstance(sqlite, SqliteResponseCache)
    redis = build_cache(CacheStoreConfig(backend="redis", key_prefix="kp"), clock)
    assert isinstance(redis, RedisResponseCache) and redis.key_prefix == "kp"
    for cache in (sqlite, redis):
        await cache.aclose()
