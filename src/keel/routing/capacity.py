"""Provisioned capacity: how much of it each deployment is using, and spilling over once it is used up.

Provisioned deployments (reserved throughput) are paid for whether used or not, so they take traffic
first; pay-as-you-go deployments take what does not fit.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from keel.config.resilience import Capacity
from keel.core.clock import Clock

WINDOW_S = 60
"""rpm and tpm are counted over the last minute, in one-second buckets: a request stops counting between
59 and 60 seconds after it started, its tokens between 59 and 60 seconds after it ended."""


@dataclass(slots=True)
class _Usage:
    buckets: deque[list[int]] = field(default_factory=deque)
    """[second, requests started, tokens of finished requests], oldest first."""
    in_flight: int = 0
    in_flight_tokens: int = 0
    """Estimated tokens of the requests still running; they move into the buckets when they end."""

    def add(self, second: int, requests: int, tokens: int) -> None:
        self.prune(second)
        if self.buckets and self.buckets[-1][0] >= second:
            # Same second (or a clock that stepped back): count it in the newest bucket.
            self.buckets[-1][1] += requests
            self.buckets[-1][2] += tokens
        else:
            self.buckets.append([second, requests, tokens])

    def prune(self, second: int) -> None:
        while self.buckets and self.buckets[0][0] <= second - WINDOW_S:
            self.buckets.popleft()

    def totals(self, second: int) -> tuple[int, int]:
        self.prune(second)
        return sum(b[1] for b in self.buckets), sum(b[2] for b in self.buckets) + self.in_flight_tokens


class CapacityTracker:
    """Per-process usage of each deployment against its ``Capacity`` (looked up on every call, so a
    reloaded config takes effect at once). A deployment without one always has room."""

    def __init__(self, capacities: Callable[[str], Capacity | None], clock: Clock) -> None:
        self._capacities = capacities
        self._clock = clock
        self._usage: dict[str, _Usage] = {}

    def has_room(self, name: str, tokens: int) -> bool:
        """Whether one more request of ``tokens`` (estimated) stays within rpm, tpm and concurrency."""
        capacity = self._capacities(name)
        if capacity is None:
            return True
        requests, used, in_flight = self.usage(name)
        if capacity.rpm is not None and requests + 1 > capacity.rpm:
            return False
        if capacity.tpm is not None and used + tokens > capacity.tpm:
            return False
        return capacity.concurrency is None or in_flight + 1 <= capacity.concurrency

    def acquire(self, name: str, tokens: int) -> None:
        """Count a request that starts now, with its estimated tokens."""
        usage = self._usage.setdefault(name, _Usage())
        usage.add(self._second(), 1, 0)
        usage.in_flight += 1
        usage.in_flight_tokens += tokens

    def release(self, name: str, actual_tokens: int | None, estimated_tokens: int) -> None:
        """The request ended: its tokens (the actual count when known, else the estimate) count from now on.

        Counting them at the end rather than at the start errs on the side of using too little capacity,
        and a correction never has to reach back into a bucket that may have left the window already.
        """
        usage = self._usage.setdefault(name, _Usage())
        # Clamped, so that a release without a matching acquire cannot make room out of nothing.
        usage.in_flight = max(0, usage.in_flight - 1)
        usage.in_flight_tokens = max(0, usage.in_flight_tokens - estimated_tokens)
        usage.add(self._second(), 0, estimated_tokens if actual_tokens is None else actual_tokens)

    def usage(self, name: str) -> tuple[int, int, int]:
        """(requests started in the window, tokens in the window, requests in flight); the tokens include
        the estimates of the requests in flight."""
        usage = self._usage.get(name)
        if usage is None:
            return 0, 0, 0
        requests, tokens = usage.totals(self._second())
        return requests, tokens, usage.in_flight

    def _second(self) -> int:
        return math.floor(self._clock.monotonic())


def spillover_order(
    ordered: Sequence[str], provisioned: Callable[[str], bool], has_room: Callable[[str], bool]
) -> list[str]:
    """Provisioned deployments with room first, then pay-as-you-go ones, then provisioned ones that are
    full (as a last resort: a full deployment may still answer), each group in its given order."""
    with_room: list[str] = []
    pay_as_you_go: list[str] = []
    full: list[str] = []
    for name in ordered:
        if not provisioned(name):
            pay_as_you_go.append(name)
        elif has_room(name):
            with_room.append(name)
        else:
            full.append(name)
    return [*with_room, *pay_as_you_go, *full]
