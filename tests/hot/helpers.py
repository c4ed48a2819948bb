"""Test doubles for the hot-counter tests: a hand-moved clock, a primary that can be taken down, a TCP proxy."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

from keel.hot.memory import MemoryHotStore
from keel.hot.store import HotStoreUnavailable, WindowResult

T = TypeVar("T")


class SwitchableStore:
    """A primary backed by memory that fails like an unreachable Redis while ``down`` is set."""

    def __init__(self) -> None:
        self.inner = MemoryHotStore()
        self.down = False
        self.calls = 0

    async def _do(self, call: Callable[[], Awaitable[T]]) -> T:
        self.calls += 1
        if self.down:
            raise HotStoreUnavailable("switched off")
        return await call()

    async def window_take(self, key: str, amount: int, limit: int, window_s: float, now: float) -> WindowResult:
        return await self._do(lambda: self.inner.window_take(key, amount, limit, window_s, now))

    async def window_adjust(self, key: str, delta: int, window_s: float, now: float) -> None:
        await self._do(lambda: self.inner.window_adjust(key, delta, window_s, now))

    async def counter_reserve(self, key: str, amount: int, limit: int | None, ttl_s: float) -> tuple[bool, int]:
        return await self._do(lambda: self.inner.counter_reserve(key, amount, limit, ttl_s))

    async def counter_settle(self, key: str, reserved: int, actual: int, ttl_s: float) -> int:
        return await self._do(lambda: self.inner.counter_settle(key, reserved, actual, ttl_s))

    async def counter_get(self, key: str) -> tuple[int, int]:
        return await self._do(lambda: self.inner.counter_get(key))

    async def flag_set(self, key: str, ttl_s: float) -> bool:
        return await self._do(lambda: self.inner.flag_set(key, ttl_s))

    async def ping(self) -> None:
        await self._do(self.inner.ping)

    async def aclose(self) -> None:
        await self.inner.aclose()


class TcpProxy:
    """Forwards a local port to Redis; ``stop()`` cuts every connection and refuses new ones, like an outage."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
            self._writers.update((writer, up_writer))
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        except (OSError, asyncio.CancelledError):
            writer.close()
        finally:
            self._tasks.discard(task)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()
        self._writers.discard(writer)


async def blackhole_server() -> asyncio.Server:
    """Accepts connections and never answers: every command times out."""

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            await reader.read()
        writer.close()

    return await asyncio.start_server(hold, "127.0.0.1", 0)
