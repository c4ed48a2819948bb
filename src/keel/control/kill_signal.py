"""Tell every replica at once that the kill switches changed, through the hot store.

Switches are durable in the database, and each process reloads them every ``kill_switch_refresh_s``.
Whoever sets or clears one (a gateway's admin API, or ``keel kill`` from a shell) also writes a new
marker to the hot store's ``control`` board; every process checks the marker every ``watch_s`` (one
small read) and reloads from the database as soon as it changes. With Redis as the hot store a switch
applies on every replica within a fraction of a second; the slower database refresh stays as the
backstop for when the hot store is away.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable

from keel.hot.store import HotStore

log = logging.getLogger("keel.control")

BOARD = "control"
FIELD = "kill_switches"
MARKER_TTL_S = 7 * 24 * 3600.0


class KillSignal:
    def __init__(self, store: HotStore) -> None:
        self._store = store

    async def changed(self) -> None:
        """Announce a change; best effort (the database refresh catches anyone who missed it)."""
        try:
            await self._store.board_put(BOARD, FIELD, secrets.token_hex(8), MARKER_TTL_S)
        except Exception as error:
            log.warning("cannot announce the kill-switch change through the hot store: %s", error)

    async def marker(self) -> str | None:
        return (await self._store.board_read(BOARD)).get(FIELD)


class KillWatch:
    """Runs ``reload`` whenever the marker changes."""

    def __init__(self, signal: KillSignal, reload: Callable[[], Awaitable[None]], watch_s: float = 0.25) -> None:
        self._signal = signal
        self._reload = reload
        self._watch_s = watch_s
        self._last: str | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._last = await self._read()
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="keel-kill-watch")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def check(self) -> bool:
        """Reload if the marker moved since the last check; whether it did."""
        marker = await self._read()
        if marker is None or marker == self._last:
            return False
        await self._reload()
        self._last = marker  # only once reloaded: a failed reload is retried at the next check
        return True

    async def _read(self) -> str | None:
        try:
            return await self._signal.marker()
        except Exception:
            return self._last  # the hot store is away: the database refresh covers it

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._watch_s)
            try:
                await self.check()
            except Exception as error:  # the reload failed (database away): the refresher logs that
                log.debug("kill-switch reload after a change marker failed: %s", error)
