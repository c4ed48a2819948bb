"""The hot-counter protocol: atomic sliding windows and reserve/settle counters.

Two implementations share these semantics exactly: ``MemoryHotStore`` (one process) and ``RedisHotStore``
(every replica sharing one Redis). Amounts are integers — requests, tokens or micro-dollars — so sums are
exact and identical on both backends.

A sliding window of ``window_s`` seconds is kept as ``WINDOW_BUCKETS`` sub-buckets of
``window_s / WINDOW_BUCKETS`` seconds each, plus the bucket in progress. An amount taken at time ``t``
counts until the end of the bucket that lies ``WINDOW_BUCKETS`` buckets after its own, i.e. for at least
``window_s`` and at most ``window_s`` plus one bucket. Holding a take slightly longer than the window
(never shorter) means no span of ``window_s`` seconds ever holds more than the limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

WINDOW_BUCKETS = 60
"""Sub-buckets per window: one-second resolution for the 60-second rate-limit windows."""

RESERVATION_LEASE_S = 600.0
"""How long an unsettled reservation may hold a counter's capacity: longer than any request runs.

Reservations are grouped by lease generation (store time // lease); only the current and the previous
generation count, so a reservation nobody settles (a crashed replica) is dropped after one to two leases.
"""


@dataclass(frozen=True, slots=True)
class WindowResult:
    admitted: bool
    used: int
    """Usage in the window after this call (if admitted) or as it stands (if refused)."""
    limit: int
    reset_s: float
    """Seconds until enough of the window expires for usage to drop (if admitted) or for this amount to fit
    (if refused)."""

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


class HotStoreUnavailable(Exception):
    """The shared store could not be reached or cannot serve (connection refused, timeout, out of memory).

    Raised only by shared backends; ``FailoverHotStore`` turns it into its failure policy.
    """


class HotStore(Protocol):
    async def window_take(self, key: str, amount: int, limit: int, window_s: float, now: float) -> WindowResult:
        """Atomically take ``amount`` from the sliding window if ``used + amount <= limit``."""
        ...

    async def window_adjust(self, key: str, delta: int, window_s: float, now: float) -> None:
        """Correct an earlier take (an estimate replaced by the actual amount); usage never drops below 0."""
        ...

    async def counter_reserve(self, key: str, amount: int, limit: int | None, ttl_s: float) -> tuple[bool, int]:
        """Atomically reserve ``amount`` if ``committed + reserved + amount <= limit`` (``None``: no limit).

        Returns whether it was reserved and ``committed + reserved`` afterwards (as it stands if refused).
        Every write sets the counter's TTL to ``ttl_s``.
        """
        ...

    async def counter_settle(self, key: str, reserved: int, actual: int, ttl_s: float) -> int:
        """Release a reservation and commit the actual amount; returns the new committed total."""
        ...

    async def counter_get(self, key: str) -> tuple[int, int]:
        """``(committed, reserved)``; ``(0, 0)`` for a counter never written or expired."""
        ...

    async def flag_set(self, key: str, ttl_s: float) -> bool:
        """Set a flag if it is not set; True only for the one call that set it."""
        ...

    async def board_put(self, board: str, field: str, value: str, ttl_s: float) -> None:
        """Set one field of a small shared board (circuit phases, change markers); the board expires
        ``ttl_s`` after its last write. Values carry their own meaning and age; readers judge staleness."""
        ...

    async def board_read(self, board: str) -> dict[str, str]:
        """Every field of a board; empty for a board never written or expired."""
        ...

    async def ping(self) -> None: ...

    async def aclose(self) -> None: ...


def bucket_width(window_s: float) -> float:
    return window_s / WINDOW_BUCKETS


def bucket_of(now: float, width: float) -> int:
    return math.floor(now / width)


def bucket_expiry(bucket: int, width: float) -> float:
    """The time at which an amount in ``bucket`` stops counting."""
    return (bucket + WINDOW_BUCKETS + 1) * width


def window_reset(
    live: list[tuple[int, int]], used: int, amount: int, limit: int, admitted: bool, width: float, now: float
) -> float:
    """Seconds until usage drops (admitted) or until ``amount`` fits (refused); ``live`` sorted oldest first."""
    if not live:
        return 0.0
    if admitted:
        return max(0.0, bucket_expiry(live[0][0], width) - now)
    excess = used + amount - limit
    freed = 0
    for bucket, value in live:
        freed += value
        if freed >= excess:
            return max(0.0, bucket_expiry(bucket, width) - now)
    # More than the whole limit: it never fits; report when the window is empty again.
    return max(0.0, bucket_expiry(live[-1][0], width) - now)
