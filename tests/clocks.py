"""A clock the test moves by hand: wall and monotonic time advance together."""

from __future__ import annotations


class ManualClock:
    def __init__(self, wall: float = 1_795_608_000.0, mono: float = 1000.0) -> None:
        self.wall = wall
        self.mono = mono

    def monotonic(self) -> float:
        return self.mono

    def now(self) -> float:
        return self.wall

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds
