"""A time-bounded memory of a source's answers, so a hot path does not query per request.

Both answers are remembered: "absent" is as expensive to learn as "present". Entries expire after
``ttl_s`` and the oldest is dropped when ``max_entries`` is reached, so memory stays bounded however
many distinct values answers mention. A failed look-up is not remembered: the next request retries.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from keel.core.clock import Clock
from keel.guards.validators.sources.base import DataSource


class CachedSource:
    """Wraps a source; asks it only about values not answered within the last ``ttl_s`` seconds."""

    def __init__(self, inner: DataSource, *, ttl_s: float, max_entries: int, clock: Clock) -> None:
        if ttl_s <= 0 or max_entries < 1:
            raise ValueError("a cache needs ttl_s > 0 and max_entries >= 1")
        self.description = inner.description
        self._inner = inner
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, bool]] = OrderedDict()
        """value -> (expiry on the monotonic clock, present), oldest insertion first."""

    async def contains(self, values: Sequence[str]) -> dict[str, bool]:
        now = self._clock.monotonic()
        answers: dict[str, bool] = {}
        missing: list[str] = []
        for value in dict.fromkeys(values):
            entry = self._entries.get(value)
            if entry is not None and entry[0] > now:
                answers[value] = entry[1]
            else:
                missing.append(value)
        if missing:
            fetched = await self._inner.contains(missing)
            expiry = self._clock.monotonic() + self._ttl_s
            for value in missing:
                present = fetched.get(value, False)
                answers[value] = present
                self._remember(value, expiry, present)
        return answers

    def _remember(self, value: str, expiry: float, present: bool) -> None:
        self._entries.pop(value, None)
        self._entries[value] = (expiry, present)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
