"""Time, injectable so that tests and simulations can control it."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def now(self) -> float:
        """Seconds since the epoch (wall clock)."""
        ...


class SystemClock:
    def monotonic(self) -> float:
        return time.perf_counter()

    def now(self) -> float:
        return time.time()
