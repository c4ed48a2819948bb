"""Hot counters in Redis, shared by every replica.

Each logical counter lives in one Redis key named ``{<prefix>:<kind>:<key>}``. The braces make the whole
name the Redis Cluster hash tag, so each counter maps to one slot and each script touches one key. Key
parts are escaped so a ``{`` or ``}`` in a team or route name cannot change the hash tag.

Commands issued in one turn of the event loop (the limits and budgets of every request in flight) go
to Redis as one pipeline (``redis_batch``). They get a short socket timeout and no automatic retries: a
write script that timed out may already have run, and running it again would count twice. A failure
surfaces as ``HotStoreUnavailable``, which ``FailoverHotStore`` turns into its policy.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable
from typing import Literal, TypeVar

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ClusterError, OutOfMemoryError, ReadOnlyError, ResponseError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from keel.hot import redis_scripts
from keel.hot.redis_batch import CommandBatcher, Script
from keel.hot.store import (
    RESERVATION_LEASE_S,
    WINDOW_BUCKETS,
    HotStoreUnavailable,
    WindowResult,
    bucket_expiry,
    bucket_width,
)

T = TypeVar("T")
Kind = Literal["window", "counter", "flag", "board"]

_KIND_TAGS: dict[Kind, str] = {"window": "w", "counter": "c", "flag": "f", "board": "b"}
_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, OutOfMemoryError, ReadOnlyError, ClusterError, TryAgainError)
# Server replies that mean "cannot serve right now" rather than "this command is wrong".
_UNAVAILABLE_REPLIES = ("BUSY", "LOADING", "MASTERDOWN", "CLUSTERDOWN", "NOREPLICAS", "TRYAGAIN", "READONLY", "OOM")


def escape_key_part(text: str) -> str:
    """Reversible escaping of the characters that would end or start a hash tag."""
    return text.replace("%", "%25").replace("{", "%7B").replace("}", "%7D")


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


class RedisHotStore:
    def __init__(
        self,
        url: str,
        *,
        key_prefix: str = "keel",
        timeout_s: float = 0.25,
        max_connections: int = 64,
        reservation_lease_s: float = RESERVATION_LEASE_S,
    ) -> None:
        self.key_prefix = key_prefix
        self._lease = repr(float(reservation_lease_s))
        # A blocking pool queues callers when every connection is busy (a burst of requests is not an
        # outage); a caller still waiting after a few timeouts' worth is treated as one.
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=4 * timeout_s,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
            decode_responses=True,
        )
        self._redis: Redis = Redis.from_pool(pool)
        # The limits, budgets and flags of every request in flight, a pipeline per turn of the loop.
        self._batch = CommandBatcher(self._redis, _unavailable)

    def redis_key(self, kind: Kind, key: str) -> str:
        return "{" + f"{escape_key_part(self.key_prefix)}:{_KIND_TAGS[kind]}:{escape_key_part(key)}" + "}"

    async def window_take(self, key: str, amount: int, limit: int, window_s: float, now: float) -> WindowResult:
        width = bucket_width(window_s)
        args = _window_args(amount, window_s, now) + [limit]
        reply = await self._batch.script(_WINDOW_TAKE, [self.redis_key("window", key)], args)
        admitted, used, has_reset, reset_bucket = (int(x) for x in reply)
        reset = max(0.0, bucket_expiry(reset_bucket, width) - now) if has_reset else 0.0
        return WindowResult(bool(admitted), used, limit, reset)

    async def window_adjust(self, key: str, delta: int, window_s: float, now: float) -> None:
        args = _window_args(delta, window_s, now)
        await self._batch.script(_WINDOW_ADJUST, [self.redis_key("window", key)], args)

    async def counter_reserve(self, key: str, amount: int, limit: int | None, ttl_s: float) -> tuple[bool, int]:
        args: list[str | int] = [self._lease, amount, "" if limit is None else limit, _ms(ttl_s)]
        reply = await self._batch.script(_COUNTER_RESERVE, [self.redis_key("counter", key)], args)
        return bool(int(reply[0])), int(reply[1])

    async def counter_settle(self, key: str, reserved: int, actual: int, ttl_s: float) -> int:
        args: list[str | int] = [self._lease, reserved, actual, _ms(ttl_s)]
        return int(await self._batch.script(_COUNTER_SETTLE, [self.redis_key("counter", key)], args))

    async def counter_get(self, key: str) -> tuple[int, int]:
        reply = await self._batch.script(_COUNTER_GET, [self.redis_key("counter", key)], [self._lease])
        return int(reply[0]), int(reply[1])

    async def flag_set(self, key: str, ttl_s: float) -> bool:
        # SET NX is the atomic "set if not set"; exactly one caller gets a truthy reply.
        reply = await self._batch.command("SET", self.redis_key("flag", key), "1", "NX", "PX", _ms(ttl_s))
        return bool(reply)

    async def board_put(self, board: str, field: str, value: str, ttl_s: float) -> None:
        key = self.redis_key("board", board)
        # One transaction on one key: the field and the board's new expiry land together.
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, field, value)
            pipe.pexpire(key, _ms(ttl_s))
            await self._run(pipe.execute())

    async def board_read(self, board: str) -> dict[str, str]:
        fields = await self._batch.command("HGETALL", self.redis_key("board", board))
        return {str(name): str(value) for name, value in fields.items()}  # decode_responses: already str

    async def ping(self) -> None:
        await self._run(self._redis.ping())

    async def aclose(self) -> None:
        await self._batch.aclose()
        await self._redis.aclose()

    async def _run(self, call: Awaitable[T]) -> T:
        try:
            return await call
        except Exception as error:
            raise _unavailable(error) from error


def _unavailable(error: BaseException) -> BaseException:
    """``HotStoreUnavailable`` for an error that means Redis cannot serve now; any other error as it is."""
    if isinstance(error, (*_UNAVAILABLE, OSError, TimeoutError)) or (
        isinstance(error, ResponseError) and str(error).startswith(_UNAVAILABLE_REPLIES)
    ):
        unavailable = HotStoreUnavailable(f"redis: {error!r}")
        unavailable.__cause__ = error
        return unavailable
    return error


_WINDOW_TAKE = Script(redis_scripts.WINDOW_TAKE)
_WINDOW_ADJUST = Script(redis_scripts.WINDOW_ADJUST)
_COUNTER_RESERVE = Script(redis_scripts.COUNTER_RESERVE)
_COUNTER_SETTLE = Script(redis_scripts.COUNTER_SETTLE)
_COUNTER_GET = Script(redis_scripts.COUNTER_GET)


def _window_args(amount: int, window_s: float, now: float) -> list[str | int]:
    width = bucket_width(window_s)
    # repr() is the shortest exact form of a float, so the script computes with the same doubles.
    return [amount, repr(width), repr(now), WINDOW_BUCKETS, _ms(window_s + width)]
