"""Record incident events off the request path: the request never waits for, or fails on, the write."""

from __future__ import annotations

import asyncio
import logging

from keel.incidents.events import IncidentEvent, IncidentStore

log = logging.getLogger("keel.incidents")


class IncidentRecorder:
    def __init__(self, store: IncidentStore) -> None:
        self._store = store
        self._pending: set[asyncio.Task[None]] = set()

    def record(self, event: IncidentEvent) -> None:
        log.error("incident %s (%s, %s): %s [request %s]", event.event_id, event.severity, event.kind, event.summary,
                  event.request_id)  # fmt: skip
        task = asyncio.get_running_loop().create_task(self._write(event))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _write(self, event: IncidentEvent) -> None:
        try:
            await self._store.record(event)
        except Exception as error:
            log.error("cannot store incident %s (%s); it is in this log line only", event.event_id, error)

    async def aclose(self) -> None:
        await asyncio.gather(*self._pending, return_exceptions=True)
