"""How replicas see each other's semantic cache entries: an append-only log that each one polls.

Every replica searches its own in-process index (a search needs every vector at hand, which a remote
store cannot offer at memory speed). What replicas share is the log of entries they stored: each appends
its new entries, and each reads what was appended since its last look and adds it to its index. A
replica that starts reads the whole retained log, so it comes up warm.

- ``MemoryEntryStore``: the log in this process, for one replica (or several caches in one process).
- ``RedisEntryStore``: one Redis Stream per key prefix, ``{<prefix>:semantic}``, trimmed to about
  ``max_entries`` and expiring with its longest-lived entry. The braces make the whole name the Redis
  Cluster hash tag, so the stream lives in one slot. A stream ID is the cursor.

Stores never raise: a failed append is a skipped store, a failed read returns nothing new with the cursor
unchanged (the entries are read on a later poll), and each outage is logged once.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.typing import EncodableT, FieldT

from keel.cache.store import OutageLog
from keel.core.clock import Clock, SystemClock
from keel.hot.redis_store import escape_key_part

__all__ = ["START", "MemoryEntryStore", "RedisEntryStore", "SemanticEntry", "SemanticEntryStore"]

# The cursor before the first entry, for every store.
START = "0"


@dataclass(frozen=True)
class SemanticEntry:
    """One stored answer: where it may match, the vector it matches by, and until when (epoch seconds)."""

    entry_id: str
    partition: str
    embedder: str
    vector: npt.NDArray[np.float32]
    answer: bytes
    expires_at: float


class SemanticEntryStore(Protocol):
    async def append(self, entry: SemanticEntry) -> None:
        """Publish ``entry`` to every replica; a failure is logged and dropped."""
        ...

    async def since(self, cursor: str) -> tuple[list[SemanticEntry], str]:
        """Entries appended after ``cursor`` (oldest first, at most one batch) and the cursor after them."""
        ...

    async def aclose(self) -> None: ...


class MemoryEntryStore:
    """The entry log in this process, keeping the newest ``max_entries``."""

    def __init__(self, max_entries: int = 10_000) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._log: deque[tuple[int, SemanticEntry]] = deque(maxlen=max_entries)
        self._sequence = 0

    async def append(self, entry: SemanticEntry) -> None:
        self._sequence += 1
        self._log.append((self._sequence, entry))

    async def since(self, cursor: str) -> tuple[list[SemanticEntry], str]:
        after = int(cursor)
        if not self._log or self._log[-1][0] <= after:
            return [], cursor
        return [entry for sequence, entry in self._log if sequence > after], str(self._log[-1][0])

    async def aclose(self) -> None:
        self._log.clear()


class RedisEntryStore:
    def __init__(
        self,
        url: str,
        key_prefix: str = "keel",
        *,
        max_entries: int = 10_000,
        batch: int = 500,
        timeout_s: float = 0.5,
        max_connections: int = 16,
        clock: Clock | None = None,
    ) -> None:
        if max_entries < 1 or batch < 1:
            raise ValueError("max_entries and batch must be at least 1")
        self.key = "{" + f"{escape_key_part(key_prefix)}:semantic" + "}"
        self._max_entries = max_entries
        self._batch = batch
        self._clock: Clock = clock if clock is not None else SystemClock()
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=timeout_s,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
        )
        self._redis: Redis = Redis.from_pool(pool)
        self._outage = OutageLog("semantic, redis")
        self._malformed = OutageLog("semantic, redis entries")

    async def append(self, entry: SemanticEntry) -> None:
        # Readers compare the expiry with their own wall clock; the key only needs to outlast its entries.
        ttl_s = entry.expires_at - self._clock.now()
        if ttl_s <= 0:
            return
        ttl_ms = max(1, math.ceil(ttl_s * 1000))
        fields: dict[FieldT, EncodableT] = {
            "i": entry.entry_id,
            "p": entry.partition,
            "e": entry.embedder,
            "v": np.asarray(entry.vector, dtype="<f4").tobytes(),
            "a": entry.answer,
            "x": repr(entry.expires_at),
        }
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.xadd(self.key, fields, maxlen=self._max_entries, approximate=True)
                # The stream lives as long as its longest-lived entry: set a first expiry, then only extend it.
                pipe.pexpire(self.key, ttl_ms, nx=True)
                pipe.pexpire(self.key, ttl_ms, gt=True)
                await pipe.execute()
        except Exception as error:
            self._outage.failed("append", error)
            return
        self._outage.ok()

    async def since(self, cursor: str) -> tuple[list[SemanticEntry], str]:
        try:
            reply = await self._redis.xread({self.key: cursor}, count=self._batch)
        except Exception as error:
            self._outage.failed("since", error)
            return [], cursor
        self._outage.ok()
        # RESP2 answers [[stream, messages]], RESP3 {stream: messages}; this key is the only stream read.
        messages: list[Any] = []
        for stream in reply.values() if isinstance(reply, dict) else [stream[1] for stream in reply or []]:
            messages.extend(stream)
        entries: list[SemanticEntry] = []
        for message_id, fields in messages:
            cursor = _text(message_id)
            try:
                entries.append(_decode(fields))
            except (KeyError, TypeError, ValueError, UnicodeDecodeError) as error:
                self._malformed.failed("decode", error)
                continue
            self._malformed.ok()
        return entries, cursor

    async def aclose(self) -> None:
        await self._redis.aclose()


def _decode(fields: object) -> SemanticEntry:
    if not isinstance(fields, Mapping):
        raise ValueError("semantic cache entry has no fields")
    data = {_text(name): value for name, value in fields.items()}
    vector = np.frombuffer(_bytes(data["v"]), dtype="<f4").astype(np.float32)
    expires_at = float(_text(data["x"]))
    if not math.isfinite(expires_at) or vector.size == 0:
        raise ValueError("malformed semantic cache entry")
    return SemanticEntry(
        entry_id=_text(data["i"]),
        partition=_text(data["p"]),
        embedder=_text(data["e"]),
        vector=vector,
        answer=_bytes(data["a"]),
        expires_at=expires_at,
    )


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, str):
        return value
    raise TypeError(f"expected bytes or text, got {type(value).__name__}")


def _bytes(value: object) -> bytes:
    return value if isinstance(value, bytes) else _text(value).encode()
