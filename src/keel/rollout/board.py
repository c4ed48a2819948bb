"""The latest rollout of each route, in memory for the request path and refreshed from the store.

Only routes whose config declares a rollout are read: one query per such route every ``refresh_s``.
The latest rollout counts even when it is final, since a promoted one keeps its candidate serving the
route until the config is updated. A change made through this process (``put``) applies at once;
other processes see it at their next refresh.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from keel.config.runtime import RuntimeConfig
from keel.core.refresher import Refresher
from keel.rollout.machine import RolloutState
from keel.rollout.store import RolloutStore

log = logging.getLogger("keel.rollout")


class RolloutBoard:
    def __init__(self, store: RolloutStore, config: Callable[[], RuntimeConfig], refresh_s: float = 1.0) -> None:
        self._store = store
        self._config = config
        self._latest: dict[str, RolloutState] = {}
        self._version = 0  # bumped by every put
        self._refresher = Refresher(self.refresh, refresh_s, "rollouts", log)

    async def start(self) -> None:
        await self._refresher.start()

    async def aclose(self) -> None:
        await self._refresher.aclose()

    async def refresh(self) -> None:
        # A put while the reads were in flight would be undone by the older reads: read again.
        while True:
            version = self._version
            latest: dict[str, RolloutState] = {}
            for route in rollout_routes(self._config()):
                found = await self._store.list(limit=1, route=route)
                if found:
                    latest[route] = found[0]
            if version == self._version:
                self._latest = latest
                return

    def for_route(self, route: str) -> RolloutState | None:
        if not self._latest:
            return None
        return self._latest.get(route)

    def put(self, state: RolloutState) -> None:
        """Show a state this process just saved, unless the board already knows a later one."""
        known = self._latest.get(state.route)
        if known is not None and _order(known) > _order(state):
            return
        self._version += 1
        self._latest = {**self._latest, state.route: state}


def rollout_routes(config: RuntimeConfig) -> list[str]:
    """The routes whose config declares a rollout."""
    return [name for name, route in config.routes.items() if route.config.rollout is not None]


def _order(state: RolloutState) -> tuple[float, int]:
    # A later rollout of the route wins; of the same rollout, the one with the longer history.
    return state.started_at, state.version
