"""Drift monitoring in the gateway: features of each request and answer, per-route windows shared by replicas.

On the request path a route with ``drift:`` only hands the request and answer bodies to a bounded queue
(the oldest are dropped if the background falls behind, and counted). Every second a background task
turns them into features (``extract_features``) and observes them. Every ``sync_s`` each replica
writes its window to the database; while a route has no baseline, the replicas' baseline windows are
summed, and once they hold ``baseline_requests`` the first replica to notice merges them, freezes the
baseline and stores it — every replica then adopts that one baseline, so their current windows share
bin edges and merge exactly into the report (``keel drift report``, ``GET /admin/drift/{route}``).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from keel.cache.semantic import prompt_text
from keel.core.clock import Clock
from keel.monitor.drift import DriftMonitor, DriftReport, DriftStateError, extract_features
from keel.monitor.drift_route import RouteDriftConfig
from keel.routing.tiering.examples import Embed
from keel.store.sql_drift import SqlDriftStore

log = logging.getLogger("keel.drift")

_QUEUE = 20_000


class DriftService:
    def __init__(
        self,
        store: SqlDriftStore,
        routes: Callable[[], Mapping[str, RouteDriftConfig]],
        clock: Clock,
        *,
        sync_s: float = 30.0,
        replica: str | None = None,
        embed: Embed | None = None,
    ) -> None:
        self._store = store
        self._routes = routes
        self._clock = clock
        self._sync_s = sync_s
        self._embed = embed
        self._warned = False
        self.replica = replica or secrets.token_hex(4)
        self._queue: deque[tuple[str, dict[str, Any], dict[str, Any] | None]] = deque(maxlen=_QUEUE)
        self._monitors: dict[str, DriftMonitor] = {}
        self._observed: dict[str, int] = {}
        self._adopted: dict[str, float] = {}
        """The ``frozen_at`` of the baseline each frozen route here follows."""
        """Exchanges in the route's open window here (the baseline being collected, or the current one)."""
        self.dropped = 0
        self._task: asyncio.Task[None] | None = None

    def offer(self, route: str, request: dict[str, Any], response: dict[str, Any] | None) -> None:
        """Queue one exchange; O(1) on the request path."""
        if len(self._queue) == self._queue.maxlen:
            self.dropped += 1
        self._queue.append((route, request, response))

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="keel-drift")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.drain()
        try:
            await self.sync()
        except Exception as error:
            log.warning("drift windows not saved at shutdown: %s", error)

    async def drain(self) -> int:
        """Observe everything queued (embedding prompts in one batch per route that asks); how many exchanges."""
        configs = self._routes()
        batches: dict[str, list[tuple[dict[str, Any], dict[str, Any] | None]]] = {}
        while self._queue:
            route, request, response = self._queue.popleft()
            if route in configs:
                batches.setdefault(route, []).append((request, response))
        for route, exchanges in batches.items():
            config = configs[route]
            monitor = self._monitors.get(route)
            if monitor is None:
                monitor = self._monitors[route] = DriftMonitor(config.drift_config())
            vectors = await self._embeddings(exchanges) if config.embeddings else None
            for index, (request, response) in enumerate(exchanges):
                embedding = vectors[index] if vectors is not None else None
                monitor.observe(route, extract_features(request, response), embedding)
            self._observed[route] = self._observed.get(route, 0) + len(exchanges)
        return sum(len(exchanges) for exchanges in batches.values())

    async def _embeddings(self, exchanges: list[tuple[dict[str, Any], dict[str, Any] | None]]) -> Any:
        if self._embed is None:
            if not self._warned:
                log.warning("drift: routes ask for prompt embeddings, but the embedding model is not installed")
                self._warned = True
            return None
        try:
            return await self._embed([prompt_text(request) or "" for request, _ in exchanges])
        except Exception as error:
            log.warning("drift: prompt embeddings failed (%s); observing without them", error)
            return None

    async def sync(self) -> None:
        """Share this replica's windows and freeze or adopt baselines."""
        now = self._clock.now()
        for route, config in self._routes().items():
            monitor = self._monitors.get(route)
            if monitor is None or route not in monitor.routes():
                continue
            if not monitor.is_frozen(route):
                await self._baseline_step(route, config, monitor, now)
                continue
            if await self._store.frozen_at(route) != self._adopted.get(route):
                # Reset (or re-frozen elsewhere): this window belongs to a baseline that is gone.
                self._monitors.pop(route)
                self._observed[route] = 0
                continue
            requests = self._observed.get(route, 0)
            await self._store.save_window(route, self.replica, "current", requests, monitor.to_state(), now)

    async def _baseline_step(self, route: str, config: RouteDriftConfig, monitor: DriftMonitor, now: float) -> None:
        stored = await self._store.baseline(route)
        if stored is None:
            mine = self._observed.get(route, 0)
            await self._store.save_window(route, self.replica, "baseline", mine, monitor.to_state(), now)
            collecting = [w for w in await self._store.windows(route) if w.phase == "baseline"]
            if sum(w.requests for w in collecting) < config.baseline_requests:
                return
            merged = DriftMonitor(config.drift_config())
            for window in collecting:
                try:
                    merged.merge(DriftMonitor.from_state(window.state))
                except DriftStateError as error:
                    log.warning("drift: a baseline window of %s could not be merged: %s", route, error)
            merged.freeze_baseline(route)
            stored = await self._store.offer_baseline(route, merged.to_state(), now)
            log.info("drift baseline of route %s frozen", route)
        adopted = DriftMonitor.from_state(stored)
        adopted.restart_current(route)
        self._monitors[route] = adopted
        self._observed[route] = 0
        frozen_at = await self._store.frozen_at(route)
        assert frozen_at is not None
        self._adopted[route] = frozen_at

    async def _loop(self) -> None:
        elapsed = 0.0
        while True:
            await asyncio.sleep(1.0)
            elapsed += 1.0
            try:
                await self.drain()
                if elapsed >= self._sync_s:
                    elapsed = 0.0
                    await self.sync()
            except Exception as error:  # the database is away: keep observing, share later
                log.warning("drift monitoring: %s", error)


async def merged_report(store: SqlDriftStore, route: str, config: RouteDriftConfig) -> tuple[DriftReport | None, str]:
    """The route's report over every replica's current window, or None and why there is none yet."""
    baseline = await store.baseline(route)
    windows = await store.windows(route)
    if baseline is None:
        collected = sum(w.requests for w in windows if w.phase == "baseline")
        return None, f"collecting the baseline: {collected} of {config.baseline_requests} requests"
    monitor = DriftMonitor.from_state(baseline)
    for window in windows:
        if window.phase != "current":
            continue
        try:
            monitor.merge(DriftMonitor.from_state(window.state))
        except DriftStateError:
            continue  # a replica still on an older baseline (before a reset)
    return monitor.report(route), ""
