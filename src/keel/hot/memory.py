"""Hot counters in this process: the embedded default, and the local fallback while Redis is down.

Every operation runs to completion without awaiting, so on one event loop each check-and-take is atomic.
Entries expire like their Redis counterparts (by the store's monotonic clock) and are swept now and then,
so a long-running process does not accumulate dead windows, counters or flags.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from keel.core.clock import Clock, SystemClock
from keel.hot.store import (
    RESERVATION_LEASE_S,
    WINDOW_BUCKETS,
    WindowResult,
    bucket_of,
    bucket_width,
    window_reset,
)

_SWEEP_EVERY_S = 30.0


@dataclass(slots=True)
class _Window:
    buckets: dict[int, int] = field(default_factory=dict)
    expires_at: float = 0.0

    def live(self, now: float, width: float) -> list[tuple[int, int]]:
        """Drop expired buckets; the rest, oldest first."""
        oldest = bucket_of(now, width) - WINDOW_BUCKETS
        for bucket in [b for b in self.buckets if b < oldest]:
            del self.buckets[bucket]
        return sorted(self.buckets.items())


@dataclass(slots=True)
class _Counter:
    committed: int = 0
    held: dict[int, int] = field(default_factory=dict)
    """Reservations by lease generation; only the current and the previous one count."""
    expires_at: float = 0.0

    def reserved(self, generation: int) -> int:
        for stale in [n for n in self.held if n < generation - 1]:
            del self.held[stale]
        return sum(self.held.values())

    def release(self, amount: int, generation: int) -> None:
        """Newest generation first, never below zero."""
        for n in (generation, generation - 1):
            value = self.held.get(n)
            if value is None or amount <= 0:
                continue
            taken = min(value, amount)
            amount -= taken
            if value == taken:
                del self.held[n]
            else:
                self.held[n] = value - taken


@dataclass(frozen=True, slots=True)
class CounterSnapshot:
    key: str
    committed: int
    ttl_s: float


class MemoryHotStore:
    def __init__(self, clock: Clock | None = None, *, reservation_lease_s: float = RESERVATION_LEASE_S) -> None:
        self._clock = clock or SystemClock()
        self._lease = reservation_lease_s
        self._windows: dict[str, _Window] = {}
        self._counters: dict[str, _Counter] = {}
        self._flags: dict[str, float] = {}
        self._boards: dict[str, tuple[dict[str, str], float]] = {}
        self._next_sweep = self._clock.monotonic() + _SWEEP_EVERY_S

    async def window_take(self, key: str, amount: int, limit: int, window_s: float, now: float) -> WindowResult:
        self._maybe_sweep()
        width = bucket_width(window_s)
        window = self._windows.get(key) or _Window()
        live = window.live(now, width)
        used = sum(value for _, value in live)
        if used + amount > limit:
            reset = window_reset(live, used, amount, limit, False, width, now)
            return WindowResult(False, used, limit, reset)
        current = bucket_of(now, width)
        window.buckets[current] = window.buckets.get(current, 0) + amount
        window.expires_at = self._clock.monotonic() + window_s + width
        self._windows[key] = window
        reset = window_reset(sorted(window.buckets.items()), used + amount, 0, limit, True, width, now)
        return WindowResult(True, used + amount, limit, reset)

    async def window_adjust(self, key: str, delta: int, window_s: float, now: float) -> None:
        self._maybe_sweep()
        width = bucket_width(window_s)
        window = self._windows.get(key) or _Window()
        live = window.live(now, width)
        if delta > 0:
            current = bucket_of(now, width)
            window.buckets[current] = window.buckets.get(current, 0) + delta
        else:
            # A refund comes off the newest buckets first: the take it corrects is most likely among them.
            owed = -delta
            for bucket, value in reversed(live):
                if owed == 0:
                    break
                taken = min(value, owed)
                owed -= taken
                if value == taken:
                    del window.buckets[bucket]
                else:
                    window.buckets[bucket] = value - taken
        if window.buckets:
            window.expires_at = self._clock.monotonic() + window_s + width
            self._windows[key] = window
        else:
            self._windows.pop(key, None)

    async def counter_reserve(self, key: str, amount: int, limit: int | None, ttl_s: float) -> tuple[bool, int]:
        self._maybe_sweep()
        counter = self._live_counter(key)
        generation = self._generation()
        total = counter.committed + counter.reserved(generation)
        if limit is not None and total + amount > limit:
            return False, total
        counter.held[generation] = counter.held.get(generation, 0) + amount
        counter.expires_at = self._clock.monotonic() + ttl_s
        self._counters[key] = counter
        return True, total + amount

    async def counter_settle(self, key: str, reserved: int, actual: int, ttl_s: float) -> int:
        self._maybe_sweep()
        counter = self._live_counter(key)
        generation = self._generation()
        counter.reserved(generation)
        counter.release(reserved, generation)
        counter.committed = max(0, counter.committed + actual)
        counter.expires_at = self._clock.monotonic() + ttl_s
        self._counters[key] = counter
        return counter.committed

    async def counter_get(self, key: str) -> tuple[int, int]:
        counter = self._live_counter(key)
        return counter.committed, counter.reserved(self._generation())

    async def flag_set(self, key: str, ttl_s: float) -> bool:
        self._maybe_sweep()
        now = self._clock.monotonic()
        expires_at = self._flags.get(key)
        if expires_at is not None and expires_at > now:
            return False
        self._flags[key] = now + ttl_s
        return True

    async def board_put(self, board: str, field: str, value: str, ttl_s: float) -> None:
        self._maybe_sweep()
        fields = self._live_board(board)
        fields[field] = value
        self._boards[board] = (fields, self._clock.monotonic() + ttl_s)

    async def board_read(self, board: str) -> dict[str, str]:
        return dict(self._live_board(board))

    async def ping(self) -> None:
        return None

    async def aclose(self) -> None:
        self._windows.clear()
        self._counters.clear()
        self._flags.clear()
        self._boards.clear()

    def _live_board(self, board: str) -> dict[str, str]:
        entry = self._boards.get(board)
        if entry is None or entry[1] <= self._clock.monotonic():
            return {}
        return entry[0]

    def seed_counter(self, key: str, committed: int, ttl_s: float) -> None:
        """Start a counter from a total known elsewhere (the shared store's, before it went away)."""
        if key not in self._counters:
            self._counters[key] = _Counter(committed, {}, self._clock.monotonic() + ttl_s)

    def drain_counters(self) -> list[CounterSnapshot]:
        """Every live counter's committed total, removing them all (reservations are dropped with them)."""
        now = self._clock.monotonic()
        snapshots = [
            CounterSnapshot(key, counter.committed, counter.expires_at - now)
            for key, counter in self._counters.items()
            if counter.expires_at > now
        ]
        self._counters.clear()
        return snapshots

    def _generation(self) -> int:
        return math.floor(self._clock.monotonic() / self._lease)

    def _live_counter(self, key: str) -> _Counter:
        counter = self._counters.get(key)
        if counter is None or counter.expires_at <= self._clock.monotonic():
            return _Counter()
        return counter

    def _maybe_sweep(self) -> None:
        now = self._clock.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + _SWEEP_EVERY_S
        for key in [k for k, w in self._windows.items() if w.expires_at <= now]:
            del self._windows[key]
        for key in [k for k, c in self._counters.items() if c.expires_at <= now]:
            del self._counters[key]
        for key in [k for k, at in self._flags.items() if at <= now]:
            del self._flags[key]
        for key in [k for k, (_, at) in self._boards.items() if at <= now]:
            del self._boards[key]
