"""Keep serving when the shared hot store (Redis) fails: fail open to local counters, or fail closed.

While the primary is healthy every call goes to it. The first failure marks an outage: one warning is
logged, ``on_state(False)`` is reported, and from then on calls are served by the policy —

- ``open``: from this process's own ``MemoryHotStore``. Each replica then enforces each limit alone, so
  across N replicas up to N times the limit can be admitted per window, for the outage only. Budget counters
  start from the last committed total this replica saw from the primary, so an exhausted budget stays
  exhausted, and the spend committed locally is added back to the primary on recovery.
- ``closed``: every admission (a window take, a reservation, a read) raises ``ServiceUnavailable`` (503,
  code ``hot_store_unavailable``). Bookkeeping for requests already admitted does not fail them: their
  spend is kept locally and added back on recovery, token corrections are dropped, alerts wait for the
  first commit after recovery.

At most once per ``probe_interval_s`` the primary is pinged again; when it answers the outage ends (one
more log line, ``on_state(True)``) and calls go to the primary again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Literal, TypeVar

from keel.core.clock import Clock, SystemClock
from keel.core.errors import ServiceUnavailable
from keel.hot.memory import CounterSnapshot, MemoryHotStore
from keel.hot.store import HotStore, HotStoreUnavailable, WindowResult

T = TypeVar("T")
Policy = Literal["open", "closed"]

# Bounds the memory of last-seen totals; budget counters are few, this only guards against misuse.
_MAX_REMEMBERED = 10_000


class FailoverHotStore:
    def __init__(
        self,
        primary: HotStore,
        local: MemoryHotStore,
        policy: Policy,
        logger: logging.Logger | None = None,
        on_state: Callable[[bool], None] | None = None,
        *,
        clock: Clock | None = None,
        probe_interval_s: float = 1.0,
    ) -> None:
        self.primary = primary
        self.local = local
        self.policy: Policy = policy
        self._log = logger or logging.getLogger("keel.hot")
        self._on_state = on_state
        self._clock = clock or SystemClock()
        self._probe_interval_s = probe_interval_s
        self._healthy = True
        self._next_probe = 0.0
        self._last_committed: dict[str, int] = {}
        self._seeds: dict[str, int] = {}
        if on_state is not None:
            on_state(True)

    @property
    def healthy(self) -> bool:
        return self._healthy

    async def window_take(self, key: str, amount: int, limit: int, window_s: float, now: float) -> WindowResult:
        return await self._route(lambda store: store.window_take(key, amount, limit, window_s, now))

    async def window_adjust(self, key: str, delta: int, window_s: float, now: float) -> None:
        # A correction of a request already served: when closed, dropped rather than failing that request.
        await self._route(lambda store: store.window_adjust(key, delta, window_s, now), when_closed=_constant(None))

    async def counter_reserve(self, key: str, amount: int, limit: int | None, ttl_s: float) -> tuple[bool, int]:
        return await self._route(lambda store: store.counter_reserve(key, amount, limit, ttl_s), key, ttl_s)

    async def counter_settle(self, key: str, reserved: int, actual: int, ttl_s: float) -> int:
        # Spend already happened: even when closed it is kept locally and added to the primary on recovery.
        def settle(store: HotStore) -> Awaitable[int]:
            return store.counter_settle(key, reserved, actual, ttl_s)

        committed = await self._route(settle, key, ttl_s, when_closed=lambda: self._local_call(settle, key, ttl_s))
        if self._healthy:
            self._remember(key, committed)
        return committed

    async def counter_get(self, key: str) -> tuple[int, int]:
        committed, reserved = await self._route(lambda store: store.counter_get(key), key)
        if self._healthy:
            self._remember(key, committed)
        return committed, reserved

    async def flag_set(self, key: str, ttl_s: float) -> bool:
        # When closed, "not set by this call": the commit that next finds the threshold reached claims it.
        return await self._route(lambda store: store.flag_set(key, ttl_s), when_closed=_constant(False))

    async def board_put(self, board: str, field: str, value: str, ttl_s: float) -> None:
        # Shared state is advisory (circuits, change markers): under either policy an outage keeps it local.
        def put(store: HotStore) -> Awaitable[None]:
            return store.board_put(board, field, value, ttl_s)

        await self._route(put, when_closed=lambda: put(self.local))

    async def board_read(self, board: str) -> dict[str, str]:
        def read(store: HotStore) -> Awaitable[dict[str, str]]:
            return store.board_read(board)

        return await self._route(read, when_closed=lambda: read(self.local))

    async def ping(self) -> None:
        """Check the primary now (not waiting for the probe interval); raises only under the closed policy."""
        self._next_probe = 0.0
        await self._route(lambda store: store.ping())

    async def aclose(self) -> None:
        try:
            await self.primary.aclose()
        finally:
            await self.local.aclose()

    async def _route(
        self,
        call: Callable[[HotStore], Awaitable[T]],
        counter_key: str | None = None,
        ttl_s: float = 60.0,
        *,
        when_closed: Callable[[], Awaitable[T]] | None = None,
    ) -> T:
        if not self._healthy and self._probe_due():
            await self._probe()
        if self._healthy:
            try:
                return await call(self.primary)
            except HotStoreUnavailable as error:
                self._mark_down(error)
        if self.policy == "open":
            return await self._local_call(call, counter_key, ttl_s)
        if when_closed is not None:
            return await when_closed()
        raise ServiceUnavailable(
            "rate limits and budgets cannot be checked: the shared counter store is unavailable",
            code="hot_store_unavailable",
        )

    async def _local_call(self, call: Callable[[HotStore], Awaitable[T]], counter_key: str | None, ttl_s: float) -> T:
        if counter_key is not None:
            self._seed(counter_key, ttl_s)
        return await call(self.local)

    async def _probe(self) -> None:
        # A ping rather than the caller's own operation: the outage's local spend must be added back
        # before the primary answers anything.
        try:
            await self.primary.ping()
        except HotStoreUnavailable as error:
            self._mark_down(error)
            return
        await self._recover()

    def _probe_due(self) -> bool:
        now = self._clock.monotonic()
        if now < self._next_probe:
            return False
        # Claimed before the call, so concurrent requests do not all probe a primary that may hang.
        self._next_probe = now + self._probe_interval_s
        return True

    def _mark_down(self, error: HotStoreUnavailable) -> None:
        self._next_probe = self._clock.monotonic() + self._probe_interval_s
        if not self._healthy:
            return
        self._healthy = False
        serving = "local in-process counters" if self.policy == "open" else "refusals (503)"
        self._log.warning("hot counter store unavailable, serving %s until it recovers: %s", serving, error)
        if self._on_state is not None:
            self._on_state(False)

    async def _recover(self) -> None:
        if self._healthy:
            return  # another call's probe got there first
        self._healthy = True
        self._log.warning("hot counter store recovered; shared counters are in use again")
        if self._on_state is not None:
            self._on_state(True)
        await self._replay(self.local.drain_counters())

    async def _replay(self, snapshots: list[CounterSnapshot]) -> None:
        """Add what was committed locally during the outage to the primary's totals."""
        seeds, self._seeds = self._seeds, {}
        for index, snapshot in enumerate(snapshots):
            spent = snapshot.committed - seeds.get(snapshot.key, 0)
            if spent <= 0:
                continue
            try:
                await self.primary.counter_settle(snapshot.key, 0, spent, snapshot.ttl_s)
            except HotStoreUnavailable as error:
                self._mark_down(error)
                for rest in snapshots[index:]:
                    await self._restore(rest, seeds.get(rest.key, 0))
                return

    async def _restore(self, snapshot: CounterSnapshot, seed: int) -> None:
        if snapshot.ttl_s <= 0:
            return
        if await self.local.counter_get(snapshot.key) == (0, 0):
            self.local.seed_counter(snapshot.key, snapshot.committed, snapshot.ttl_s)
            self._seeds[snapshot.key] = seed
        elif snapshot.committed > seed:
            # Written locally again meanwhile: add the unreplayed spend on top of it.
            await self.local.counter_settle(snapshot.key, 0, snapshot.committed - seed, snapshot.ttl_s)

    def _seed(self, key: str, ttl_s: float) -> None:
        if key in self._seeds or key not in self._last_committed:
            return
        committed = self._last_committed[key]
        self.local.seed_counter(key, committed, ttl_s)
        self._seeds[key] = committed

    def _remember(self, key: str, committed: int) -> None:
        if len(self._last_committed) >= _MAX_REMEMBERED and key not in self._last_committed:
            self._last_committed.clear()
        self._last_committed[key] = committed


def _constant(value: T) -> Callable[[], Awaitable[T]]:
    async def constant() -> T:
        return value

    return constant
