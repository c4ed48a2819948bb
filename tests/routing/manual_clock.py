"""A clock the test moves by hand."""

from __future__ import annotations


class ManualClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.t = start

    def monotonic(self) -> float:
        return self.t

    def now(self) -> float:
        return 1_700_000_000.0 + self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds
