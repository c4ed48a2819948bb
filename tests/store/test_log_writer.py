"""RequestLogWriter: batching, outages, spooling and replay."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from keel.store.log_writer import RequestLogWriter
from keel.store.records import RequestRecord
from keel.store.spool import REJECTED_PREFIX, Spool
from keel.store.sql import Database, open_database
from keel.store.sql_request_log import SqlRequestLogStore
from tests.store.conftest import DbTarget, make_record

DEAD_PG_URL = "postgresql://postgres@127.0.0.1:1/test"  # nothing listens on port 1


class MemoryStore:
    """An idempotent in-memory store that can be taken down or made to refuse given records."""

    def __init__(self) -> None:
        self.rows: dict[str, RequestRecord] = {}
        self.down = False
        self.refuse: set[str] = set()
        self.hang = False
        self.batches: list[int] = []

    async def write_batch(self, records: list[RequestRecord]) -> None:
        if self.hang:
            await asyncio.sleep(3600)
        if self.down:
            raise ConnectionRefusedError("database is down")
        if any(r.request_id in self.refuse for r in records):
            raise ValueError("value out of range")
        self.batches.append(len(records))
        for record in records:
            self.rows.setdefault(record.request_id, record)

    async def recent(self, limit: int = 100) -> list[RequestRecord]:
        return sorted(self.rows.values(), key=lambda r: r.ts, reverse=True)[:limit]

    async def count(self) -> int:
        return len(self.rows)


class SwitchableStore:
    """Delegates to whichever real store is current: how a test takes PostgreSQL away and back."""

    def __init__(self, current: SqlRequestLogStore) -> None:
        self.current = current

    async def write_batch(self, records: list[RequestRecord]) -> None:
        await self.current.write_batch(records)

    async def ping(self) -> None:
        await self.current.ping()

    async def recent(self, limit: int = 100) -> list[RequestRecord]:
        return await self.current.recent(limit)

    async def count(self) -> int:
        return await self.current.count()


async def eventually(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    with Spool(tmp_path / "spool") as s:
        yield s


def records(start: int, count: int) -> list[RequestRecord]:
    return [make_record(i) for i in range(start, start + count)]


# --- against the real databases ---------------------------------------------------------------------


async def test_everything_submitted_under_load_is_stored(db: Database, spool: Spool) -> None:
    store = SqlRequestLogStore(db)
    writer = RequestLogWriter(store, spool, batch_size=500, flush_interval_s=0.05)
    writer.start()
    started = time.perf_counter()
    for record in records(0, 20_000):
        writer.submit(record)
    submit_seconds = time.perf_counter() - started
    assert writer.pending == 20_000  # submit never yields to the loop, let alone waits for a write
    assert submit_seconds < 2.0
    await eventually(lambda: writer.written == 20_000, timeout=60)
    await writer.aclose()
    assert await store.count() == 20_000
    assert (writer.spooled, writer.pending, writer.last_error) == (0, 0, None)


async def test_a_real_postgresql_outage_is_spooled_then_replayed(pg_target: DbTarget, spool: Spool) -> None:
    live_db = await pg_target.open()
    dead_db = await open_database(DEAD_PG_URL, migrate=False)
    try:
        live, dead = SqlRequestLogStore(live_db), SqlRequestLogStore(dead_db)
        store = SwitchableStore(live)
        writer = RequestLogWriter(store, spool, batch_size=100, flush_interval_s=0.02)
        writer.start()
        for record in records(0, 250):
            writer.submit(record)
        await eventually(lambda: writer.written == 250)

        store.current = dead
        for record in records(250, 1000):
            writer.submit(record)
        await eventually(lambda: writer.spooled == 1000 and writer.pending == 0)
        assert writer.outage and writer.last_error is not None

        store.current = live
        await eventually(lambda: spool.is_empty() and not writer.outage)
        for record in records(1250, 50):
            writer.submit(record)
        await writer.aclose()

        assert writer.replayed == 1000 and writer.written == 300
        assert await live.count() == 1300
        stored = {r.request_id for r in await live.query(limit=10_000)}
        assert stored == {r.request_id for r in records(0, 1300)}
    finally:
        await dead_db.aclose()
        await live_db.aclose()


async def test_a_new_writer_replays_what_a_dead_database_left_in_the_spool(db: Database, tmp_path: Path) -> None:
    dead_db = await open_database(DEAD_PG_URL, migrate=False)
    try:
        with Spool(tmp_path / "spool") as first_spool:
            first = RequestLogWriter(SqlRequestLogStore(dead_db), first_spool, flush_interval_s=0.02)
            first.start()
            for record in records(0, 700):
                first.submit(record)
            await first.aclose()
            assert first.spooled == 700 and first.written == 0
    finally:
        await dead_db.aclose()

    # Another process, later, with the database back.
    store = SqlRequestLogStore(db)
    with Spool(tmp_path / "spool") as second_spool:
        assert not second_spool.is_empty()
        second = RequestLogWriter(store, second_spool, flush_interval_s=0.02)
        second.start()
        await eventually(lambda: second_spool.is_empty())
        await second.aclose()
    assert second.replayed == 700
    assert await store.count() == 700


async def test_records_postgresql_refuses_are_set_aside(pg_target: DbTarget, spool: Spool) -> None:
    db = await pg_target.open()
    try:
        store = SqlRequestLogStore(db)
        writer = RequestLogWriter(store, spool, batch_size=200, flush_interval_s=0.02)
        writer.start()
        for record in records(0, 500):
            writer.submit(record)
        poison = make_record(10_000, cost_usd=1e12)
        writer.submit(poison)
        await writer.aclose()
        assert await store.count() == 500
        assert (writer.written, writer.rejected) == (500, 1)
        [rejected_file] = spool.directory.glob(f"{REJECTED_PREFIX}*")
        assert poison.request_id in rejected_file.read_text()
    finally:
        await db.aclose()


# --- the writer's logic, against an in-memory store -------------------------------------------------


async def test_batches_are_bounded_by_batch_size(spool: Spool) -> None:
    store = MemoryStore()
    writer = RequestLogWriter(store, spool, batch_size=100, flush_interval_s=0.01)
    writer.start()
    for record in records(0, 1050):
        writer.submit(record)
    await writer.aclose()
    assert len(store.rows) == 1050
    assert max(store.batches) == 100


async def test_a_partial_batch_is_written_after_the_interval(spool: Spool) -> None:
    store = MemoryStore()
    writer = RequestLogWriter(store, spool, batch_size=500, flush_interval_s=0.02)
    writer.start()
    writer.submit(make_record(1))
    await eventually(lambda: writer.written == 1, timeout=2)
    await writer.aclose()


async def test_an_outage_spools_then_replays_with_one_warning(spool: Spool, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="keel.store.log_writer")
    store = MemoryStore()
    writer = RequestLogWriter(store, spool, batch_size=50, flush_interval_s=0.01)
    writer.start()
    store.down = True
    for i in range(20):  # many batches, over many intervals
        for record in records(i * 100, 100):
            writer.submit(record)
        await asyncio.sleep(0.005)
    await eventually(lambda: writer.spooled == 2000 and writer.pending == 0)
    assert store.rows == {}
    assert "ConnectionRefusedError" in (writer.last_error or "")

    store.down = False
    await eventually(lambda: spool.is_empty())
    await writer.aclose()
    assert len(store.rows) == 2000 and writer.replayed == 2000
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "unavailable" in warnings[0].getMessage()
    assert sum("available again" in r.getMessage() for r in caplog.records) == 1


async def test_close_during_an_outage_spools_everything(spool: Spool) -> None:
    store = MemoryStore()
    store.down = True
    writer = RequestLogWriter(store, spool, flush_interval_s=10)
    writer.start()
    for record in records(0, 10):
        writer.submit(record)
    await writer.aclose()
    assert writer.spooled == 10 and writer.pending == 0
    segment = spool.read_oldest()
    assert segment is not None and len(segment[1]) == 10


async def test_close_without_start_still_flushes(spool: Spool) -> None:
    store = MemoryStore()
    writer = RequestLogWriter(store, spool)
    for record in records(0, 3):
        writer.submit(record)
    await writer.aclose()
    assert len(store.rows) == 3


async def test_a_record_submitted_after_close_goes_to_the_spool(spool: Spool) -> None:
    writer = RequestLogWriter(MemoryStore(), spool)
    writer.start()
    await writer.aclose()
    writer.submit(make_record(1))
    assert writer.spooled == 1 and not spool.is_empty()


async def test_a_refused_record_does_not_hold_up_the_others(spool: Spool) -> None:
    store = MemoryStore()
    store.refuse = {make_record(7).request_id}
    writer = RequestLogWriter(store, spool, batch_size=10, flush_interval_s=0.01)
    writer.start()
    for record in records(0, 30):
        writer.submit(record)
    await writer.aclose()
    assert len(store.rows) == 29 and writer.written == 29 and writer.rejected == 1
    assert spool.is_empty()
    assert not writer.outage


async def test_a_refused_record_found_while_replaying_is_set_aside(spool: Spool) -> None:
    store = MemoryStore()
    store.down = True
    writer = RequestLogWriter(store, spool, batch_size=10, flush_interval_s=0.01)
    writer.start()
    for record in records(0, 30):
        writer.submit(record)
    await eventually(lambda: writer.spooled == 30)
    store.refuse = {make_record(3).request_id}
    store.down = False
    await eventually(lambda: spool.is_empty())
    await writer.aclose()
    assert len(store.rows) == 29 and writer.replayed == 29 and writer.rejected == 1


async def test_a_hung_store_counts_as_down(spool: Spool) -> None:
    store = MemoryStore()
    store.hang = True
    writer = RequestLogWriter(store, spool, flush_interval_s=0.01, write_timeout_s=0.05)
    writer.start()
    writer.submit(make_record(1))
    await eventually(lambda: writer.spooled == 1, timeout=5)
    store.hang = False
    await eventually(lambda: spool.is_empty(), timeout=5)
    await writer.aclose()
    assert list(store.rows) == [make_record(1).request_id] and writer.rejected == 0


async def test_if_the_spool_fails_too_records_wait_in_memory(spool: Spool, monkeypatch: pytest.MonkeyPatch) -> None:
    store = MemoryStore()
    store.down = True

    def disk_full(records: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(spool, "append", disk_full)
    writer = RequestLogWriter(store, spool, flush_interval_s=0.01)
    writer.start()
    for record in records(0, 5):
        writer.submit(record)
    await asyncio.sleep(0.1)
    assert writer.pending == 5 and writer.spooled == 0
    assert "No space left" in (writer.last_error or "")

    monkeypatch.undo()
    await eventually(lambda: writer.spooled == 5)
    store.down = False
    await eventually(lambda: spool.is_empty())
    await writer.aclose()
    assert len(store.rows) == 5


_CRASHING_PROCESS = """
import os, sys
from keel.store.spool import Spool
from tests.store.conftest import make_record
spool = Spool(sys.argv[1])
spool.append([make_record(i) for i in range(300)])
spool.append([make_record(i) for i in range(300, 600)])
os._exit(1)  # no close, no cleanup: as if killed
"""


async def test_a_spool_left_by_a_killed_process_is_replayed(db: Database, tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CRASHING_PROCESS, str(directory), cwd=Path(__file__).parents[2]
    )
    assert await process.wait() == 1

    store = SqlRequestLogStore(db)
    with Spool(directory) as spool:  # the dead process's lock went with it
        writer = RequestLogWriter(store, spool, flush_interval_s=0.02)
        writer.start()
        await eventually(lambda: spool.is_empty())
        await writer.aclose()
    assert writer.replayed == 600 and await store.count() == 600
