"""The in-process response cache: least-recently-used eviction with per-entry expiry.

Entries are kept encoded, like in the other backends, so a hit never shares objects with the caller
that stored it or with another hit.
"""

from __future__ import annotations

from collections import OrderedDict

from keel.cache.store import CachedAnswer, OutageLog, decode_answer, encode_answer
from keel.core.clock import Clock, SystemClock


class MemoryResponseCache:
    def __init__(self, max_entries: int = 10_000, clock: Clock | None = None) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._clock: Clock = clock if clock is not None else SystemClock()
        # key -> (monotonic expiry, encoded answer); the order is least recently used first.
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._outage = OutageLog("memory")

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> CachedAnswer | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, raw = entry
        if expires_at <= self._clock.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        try:
            answer = decode_answer(raw)
        except ValueError as error:
            self._outage.failed("get", error)
            del self._entries[key]
            return None
        self._outage.ok()
        return answer

    async def put(self, key: str, answer: CachedAnswer, ttl_s: float, *, max_bytes: int | None = None) -> None:
        if ttl_s <= 0:
            return
        try:
            raw = encode_answer(answer, max_bytes)
        except (TypeError, ValueError) as error:
            self._outage.failed("put", error)
            return
        if raw is None:
            return
        self._entries[key] = (self._clock.monotonic() + ttl_s, raw)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
        self._outage.ok()

    async def aclose(self) -> None:
        self._entries.clear()
