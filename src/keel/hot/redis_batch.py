"""Commands issued in the same turn of the event loop go to Redis as one pipeline.

A request checks several limits and budgets at once, and many requests are in flight together: sent one
by one, each command costs a connection checkout, a write and a read of its own. Here every command is
queued, and the first one queued in a turn of the loop schedules a flush for the end of that turn; the
flush sends everything queued so far in one non-transactional pipeline (at most ``max_batch`` commands
each) and hands each caller its own reply or error. Commands stay independent: each is one atomic script
or command on one key, and one failing does not fail the others, exactly as when sent alone.

Scripts run by SHA (``EVALSHA``). When Redis answers ``NOSCRIPT`` (it restarted, or its script cache was
flushed) the scripts are loaded and those commands sent once more; a script that never ran is safe to
run again.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

MAX_BATCH = 512

ErrorMap = Callable[[BaseException], BaseException]


class Script:
    """A Lua script known by its SHA-1, run with ``EVALSHA``."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()


class _Queued:
    __slots__ = ("args", "future", "script")

    def __init__(self, args: tuple[Any, ...], future: asyncio.Future[Any], script: Script | None) -> None:
        self.args = args
        self.future = future
        self.script = script


class CommandBatcher:
    def __init__(self, redis: Redis, error: ErrorMap, *, max_batch: int = MAX_BATCH) -> None:
        """``error`` turns what Redis or the connection raised into what callers should see."""
        self._redis = redis
        self._error = error
        self._max_batch = max_batch
        self._queue: list[_Queued] = []
        self._flushes: set[asyncio.Task[None]] = set()

    async def command(self, *args: Any) -> Any:
        return await self._enqueue(args, None)

    async def script(self, script: Script, keys: Sequence[str], args: Sequence[str | int]) -> Any:
        return await self._enqueue(("EVALSHA", script.sha, len(keys), *keys, *args), script)

    async def aclose(self) -> None:
        """Wait for the commands already sent."""
        if self._flushes:
            await asyncio.gather(*self._flushes, return_exceptions=True)

    def _enqueue(self, args: tuple[Any, ...], script: Script | None) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        if not self._queue:
            loop.call_soon(self._flush)
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append(_Queued(args, future, script))
        return future

    def _flush(self) -> None:
        queued, self._queue = self._queue, []
        for start in range(0, len(queued), self._max_batch):
            task = asyncio.get_running_loop().create_task(self._send(queued[start : start + self._max_batch]))
            self._flushes.add(task)
            task.add_done_callback(self._flushes.discard)

    async def _send(self, batch: list[_Queued]) -> None:
        try:
            await self._send_and_answer(batch)
        except asyncio.CancelledError:
            for item in batch:
                item.future.cancel()
            raise
        except Exception as error:  # never leave a caller waiting, whatever went wrong here
            self._fail(batch, error)

    async def _send_and_answer(self, batch: list[_Queued]) -> None:
        replies = await self._pipeline(batch)
        if replies is None:
            return
        missing = [(item, i) for i, (item, reply) in enumerate(zip(batch, replies, strict=True)) if _no_script(reply)]
        if missing:
            retried = [item for item, _ in missing]
            again = await self._load_then_pipeline(retried)
            if again is None:
                return
            for (_, index), reply in zip(missing, again, strict=True):
                replies[index] = reply
        for item, reply in zip(batch, replies, strict=True):
            if item.future.done():  # its caller was cancelled; the command ran or not, as it would alone
                continue
            if isinstance(reply, BaseException):
                item.future.set_exception(self._error(reply))
            else:
                item.future.set_result(reply)

    async def _pipeline(self, batch: list[_Queued]) -> list[Any] | None:
        """Each command's reply (or error); None when the whole pipeline failed (callers already told)."""
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for item in batch:
                    pipe.execute_command(*item.args)
                return list(await pipe.execute(raise_on_error=False))
        except Exception as error:  # the connection, not a command: every caller gets it
            self._fail(batch, error)
            return None

    async def _load_then_pipeline(self, batch: list[_Queued]) -> list[Any] | None:
        scripts = {item.script.sha: item.script for item in batch if item.script is not None}
        try:
            for script in scripts.values():
                await self._redis.script_load(script.source)
        except Exception as error:
            self._fail(batch, error)
            return None
        return await self._pipeline(batch)

    def _fail(self, batch: list[_Queued], error: BaseException) -> None:
        for item in batch:
            if not item.future.done():
                item.future.set_exception(self._error(error))


def _no_script(reply: Any) -> bool:
    return isinstance(reply, NoScriptError) or (isinstance(reply, Exception) and str(reply).startswith("NOSCRIPT"))
