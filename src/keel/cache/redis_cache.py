"""The response cache in Redis, shared by every replica.

Each entry is one key, ``{<prefix>:cache:<key>}``, set with a millisecond expiry so Redis drops it by
itself. The braces make the whole name the Redis Cluster hash tag, as for the hot counters. Timeouts
are short and there are no retries: a slow cache must cost a request little more than a miss would.
"""

from __future__ import annotations

import math

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from keel.cache.store import ExternalCache
from keel.hot.redis_store import escape_key_part


class RedisResponseCache(ExternalCache):
    def __init__(
        self, url: str, key_prefix: str = "keel", *, timeout_s: float = 0.5, max_connections: int = 64
    ) -> None:
        self.key_prefix = key_prefix
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=timeout_s,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
        )
        self._redis: Redis = Redis.from_pool(pool)
        super().__init__("redis")

    def redis_key(self, key: str) -> str:
        return "{" + f"{escape_key_part(self.key_prefix)}:cache:{escape_key_part(key)}" + "}"

    async def _read(self, key: str) -> bytes | None:
        raw = await self._redis.get(self.redis_key(key))
        return raw.encode() if isinstance(raw, str) else raw

    async def _write(self, key: str, raw: bytes, ttl_s: float) -> None:
        await self._redis.set(self.redis_key(key), raw, px=max(1, math.ceil(ttl_s * 1000)))

    async def aclose(self) -> None:
        await self._redis.aclose()
