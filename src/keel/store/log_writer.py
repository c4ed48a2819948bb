"""Moves request log records from the request path to the store, in batches, in the background.

The request path only appends to an in-memory buffer. A background task writes the buffer to the
store in batches. When the store fails, batches go to the disk spool instead, so memory stays bounded
however long the database is away; each interval the writer tries the spool again (oldest first) and
deletes spooled data only once it is stored. Nothing is dropped:

* records the database is down for are spooled and replayed (writes are idempotent on request_id,
  so a batch replayed twice is stored once);
* records the database refuses outright (a ``ValueError`` from the store, or a failure while the
  store answers ``ping()``) are set aside in a ``rejected-*`` file of the spool directory rather than
  blocking everything behind them forever;
* only if the database and the spool's disk both fail do records stay in memory, to be retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from keel.store.protocols import RequestLogStore
from keel.store.records import RequestRecord
from keel.store.spool import Spool

_log = logging.getLogger(__name__)


def describe(error: BaseException) -> str:
    """One short line for logs and metrics: SQL errors can carry whole statements."""
    text = str(error).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(error).__name__}: {first}"[:300] if first else type(error).__name__


class RequestLogWriter:
    """Batches ``RequestRecord``s into a ``RequestLogStore``, spooling to disk while it is down.

    Counters for metrics: ``written`` (stored from memory), ``spooled``, ``replayed`` (stored from the
    spool), ``rejected``, ``pending`` (records in memory) and ``last_error``.
    """

    def __init__(
        self,
        store: RequestLogStore,
        spool: Spool,
        batch_size: int = 500,
        flush_interval_s: float = 0.2,
        logger: logging.Logger | None = None,
        *,
        write_timeout_s: float = 30.0,
        replay_budget: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if flush_interval_s <= 0:
            raise ValueError("flush_interval_s must be positive")
        self._store = store
        self._spool = spool
        self._batch_size = batch_size
        self._interval = flush_interval_s
        self._log = logger or _log
        # A stuck database must not stall shutdown or let the buffer grow without limit.
        self._write_timeout = write_timeout_s
        # Records replayed per cycle, so a long backlog does not keep fresh records waiting in memory.
        self._replay_budget = replay_budget if replay_budget is not None else 10 * batch_size
        self._buffer: deque[RequestRecord] = deque()
        # Records a flush has taken from the buffer and not yet stored, spooled or put back.
        self._in_hand = 0
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._closed = False
        self._outage = False
        self._spool_failing = False

        self.written = 0
        self.spooled = 0
        self.replayed = 0
        self.rejected = 0
        self.last_error: str | None = None

    @property
    def pending(self) -> int:
        """Records held in memory: queued, or taken by a flush that has not finished with them."""
        return len(self._buffer) + self._in_hand

    @property
    def outage(self) -> bool:
        """True from a failed write until the store accepts one again."""
        return self._outage

    def submit(self, record: RequestRecord) -> None:
        """Queue a record for the log. Never blocks, never drops; call from the event loop's thread."""
        if self._closed:
            # A straggler after shutdown: straight to disk, where the next process will replay it.
            self._spool_now([record])
            return
        self._buffer.append(record)
        if self._wake is not None and len(self._buffer) >= self._batch_size:
            self._wake.set()

    def start(self) -> None:
        """Launch the background flush task on the running loop."""
        if self._task is not None or self._closed:
            raise RuntimeError("the request log writer was already started")
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="keel-request-log-writer")

    async def aclose(self) -> None:
        """Store (or spool) everything submitted so far, then stop."""
        if self._closed:
            return
        self._closing = True
        task = self._task
        if task is not None and not task.done():
            assert self._wake is not None
            self._wake.set()
            try:
                # Shielded: the final flush must finish even if whoever is shutting us down gives up.
                await asyncio.shield(task)
            except asyncio.CancelledError:
                if not task.cancelled():
                    raise  # it is aclose() being cancelled; the task carries on regardless
        if not self._closed:  # never started, or the task died: flush here instead
            await self._flush_safely()
            self._closed = True
        if self._buffer:
            self._log.error(
                "%d request log records could be neither stored nor spooled and are lost", len(self._buffer)
            )

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            if not self._closing:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self._interval)
                self._wake.clear()
            closing = self._closing  # read before flushing: the last round covers every submit
            await self._flush_safely()
            if closing:
                # No await between the final flush and this flag: from here submit() spools directly.
                self._closed = True
                return

    async def _flush_safely(self) -> None:
        try:
            await self._flush()
        except Exception as error:  # a bug here must not end the task and strand the buffer
            self.last_error = describe(error)
            self._log.exception("request log writer failed a flush; retrying next interval")
        finally:
            self._in_hand = 0  # every record taken is now stored, spooled, set aside or back in the buffer

    async def _flush(self) -> None:
        if not self._spool.is_empty() and not await self._replay():
            # Still down: send this interval's records to disk without another failing round trip.
            await self._spool_records(self._take(len(self._buffer)))
            return
        # Bounded to what is queued now, so a steady stream cannot starve the next replay.
        remaining = len(self._buffer)
        while remaining > 0 and self._buffer:
            batch = self._take(min(self._batch_size, remaining))
            remaining -= len(batch)
            stored, unwritten = await self._write(batch)
            self.written += stored
            if unwritten:
                await self._spool_records(unwritten + self._take(len(self._buffer)))
                return

    async def _replay(self) -> bool:
        """Replay spooled segments, oldest first; False if the store is still failing."""
        replayed_now = 0
        while replayed_now < self._replay_budget:
            segment = await asyncio.to_thread(self._spool.read_oldest)
            if segment is None:
                return True
            segment_id, records = segment
            stored_total = 0
            for start in range(0, len(records), self._batch_size):
                stored, unwritten = await self._write(records[start : start + self._batch_size])
                stored_total += stored
                if unwritten:
                    return False  # the segment stays; rows already written are skipped next time
            await asyncio.to_thread(self._spool.remove, segment_id)
            self.replayed += stored_total
            replayed_now += max(1, len(records))
        return True

    async def _write(self, batch: list[RequestRecord]) -> tuple[int, list[RequestRecord]]:
        """Write a batch; return how many were stored and those to keep for later (store down)."""
        try:
            await self._call_store(self._store.write_batch(batch))
        except Exception as error:
            if not await self._is_bad_data(error):
                self._enter_outage(error)
                return 0, batch
            return await self._write_one_by_one(batch, error)
        self._leave_outage()
        return len(batch), []

    async def _write_one_by_one(
        self, batch: list[RequestRecord], batch_error: Exception
    ) -> tuple[int, list[RequestRecord]]:
        """Find the records the store refuses, store the rest."""
        stored = 0
        refused: list[RequestRecord] = []
        last_refusal: Exception = batch_error
        for index, record in enumerate(batch):
            for attempt in range(2):  # one retry: the failure may have been a passing one
                try:
                    await self._call_store(self._store.write_batch([record]))
                except Exception as error:
                    if not await self._is_bad_data(error):
                        self._enter_outage(error)
                        await self._set_aside(refused, last_refusal)
                        return stored, batch[index:]
                    if attempt == 1 or isinstance(error, ValueError | TypeError):
                        refused.append(record)
                        last_refusal = error
                        break
                else:
                    stored += 1
                    break
        self._leave_outage()
        kept = await self._set_aside(refused, last_refusal)
        return stored, kept

    async def _set_aside(self, refused: list[RequestRecord], error: Exception) -> list[RequestRecord]:
        """Write refused records to a rejected file; return them if even that failed."""
        if not refused:
            return []
        try:
            path = await asyncio.to_thread(self._spool.reject, refused)
        except Exception as disk_error:
            self.last_error = describe(disk_error)
            self._log.error("cannot set aside %d refused request log records: %s", len(refused), describe(disk_error))
            return refused
        self.rejected += len(refused)
        self.last_error = describe(error)
        self._log.error("request log store refused %d record(s) (%s); kept in %s", len(refused), describe(error), path)
        return []

    async def _call_store(self, call: Awaitable[None]) -> None:
        await asyncio.wait_for(call, timeout=self._write_timeout)

    async def _is_bad_data(self, error: Exception) -> bool:
        """Did the store refuse these records (rather than fail to be reached)?"""
        if isinstance(error, ValueError | TypeError):
            return True
        if isinstance(error, OSError):
            return False  # refused or timed out (TimeoutError is an OSError): plainly down
        ping: Callable[[], Awaitable[None]] | None = getattr(self._store, "ping", None)
        if ping is None:
            return False
        try:
            await self._call_store(ping())
        except Exception:
            return False
        return True  # the store answers, so it is the batch it cannot take

    def _enter_outage(self, error: Exception) -> None:
        self.last_error = describe(error)
        if not self._outage:
            self._outage = True
            self._log.warning(
                "request log store unavailable (%s); spooling records to %s until it is back",
                self.last_error,
                self._spool.directory,
            )

    def _leave_outage(self) -> None:
        if self._outage:
            self._outage = False
            self._log.info("request log store available again; replaying %d spooled segment(s)", len(self._spool))

    def _take(self, count: int) -> list[RequestRecord]:
        popleft = self._buffer.popleft
        taken = [popleft() for _ in range(min(count, len(self._buffer)))]
        self._in_hand += len(taken)
        return taken

    async def _spool_records(self, records: list[RequestRecord]) -> None:
        if not records:
            return
        try:
            await asyncio.to_thread(self._spool.append, records)
        except Exception as error:
            self._keep_in_memory(records, error)
            return
        self._spool_ok(len(records))

    def _spool_now(self, records: list[RequestRecord]) -> None:
        try:
            self._spool.append(records)
        except Exception as error:
            self._keep_in_memory(records, error)
            return
        self._spool_ok(len(records))

    def _spool_ok(self, count: int) -> None:
        self.spooled += count
        if self._spool_failing:
            self._spool_failing = False
            self._log.info("request log spool writable again")

    def _keep_in_memory(self, records: list[RequestRecord], error: Exception) -> None:
        # Back to the front of the buffer, to be tried again next interval.
        self._buffer.extendleft(reversed(records))
        self._in_hand = max(0, self._in_hand - len(records))
        self.last_error = describe(error)
        if not self._spool_failing:
            self._spool_failing = True
            self._log.error(
                "cannot write the request log spool (%s); keeping %d records in memory",
                self.last_error,
                len(self._buffer),
            )
