"""Load shedding: a per-process cap on requests in flight, with an optional short queue.

Beyond the cap (and the queue) a request is refused at once with a 503 and Retry-After, so an
overload costs a fast, honest answer instead of growing memory and latency for everyone. Health
and metrics endpoints are not admitted through here and keep answering.
"""

from __future__ import annotations

import asyncio

from keel.config.resilience import SheddingConfig


class Admission:
    def __init__(self, config: SheddingConfig) -> None:
        self.config = config
        self._slots = asyncio.Semaphore(config.max_in_flight)
        self._queued = 0
        self._in_flight = 0

    @property
    def queued(self) -> int:
        return self._queued

    @property
    def in_flight(self) -> int:
        """Requests admitted and not yet done."""
        return self._in_flight

    async def enter(self) -> bool:
        """True when admitted (the caller must ``leave`` later); False when the request must be shed."""
        if not self._slots.locked():
            await self._slots.acquire()  # a free slot: returns without waiting
            self._in_flight += 1
            return True
        if self._queued >= self.config.max_queued:
            return False
        self._queued += 1
        try:
            async with asyncio.timeout(self.config.queue_timeout_s):
                await self._slots.acquire()
            self._in_flight += 1
            return True
        except TimeoutError:
            return False
        finally:
            self._queued -= 1

    def leave(self) -> None:
        self._in_flight -= 1
        self._slots.release()
