"""Keep an in-memory view fresh from a store, in the background, surviving store outages.

The key ring and the kill-switch board both serve the request path from memory and reload from the
database every few seconds; while the database is down they keep what they know, and say so once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable


class Refresher:
    def __init__(self, refresh: Callable[[], Awaitable[None]], every_s: float, what: str, log: logging.Logger) -> None:
        self._refresh = refresh
        self._every_s = every_s
        self._what = what
        self._log = log
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Load once (failing loudly if the store is unreachable at start), then keep refreshing."""
        await self._refresh()
        self._task = asyncio.create_task(self._loop(), name=f"keel-refresh-{self._what}")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _loop(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self._every_s)
            try:
                await self._refresh()
            except Exception as exc:
                if not failing:
                    self._log.warning("cannot refresh %s from the store (%s); using the known ones", self._what, exc)
                failing = True
                continue
            if failing:
                self._log.warning("store reachable again; %s refreshed", self._what)
            failing = False
