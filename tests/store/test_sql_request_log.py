"""SqlRequestLogStore on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import func, select

from keel.store.protocols import RequestLogStore
from keel.store.records import RequestRecord
from keel.store.sql import Database, open_database
from keel.store.sql_request_log import RecordsRejected, SqlRequestLogStore
from keel.store.tables import request_log
from tests.store.conftest import DbTarget, full_record, make_record


def test_implements_the_protocol(db: Database) -> None:
    store: RequestLogStore = SqlRequestLogStore(db)
    assert store is not None


async def test_every_field_round_trips(db: Database) -> None:
    store = SqlRequestLogStore(db)
    original = full_record()
    await store.write_batch([original])
    [read] = await store.recent()
    assert read == original
    assert type(read.cost_usd) is float
    assert read.attempts[0].error_class == "UpstreamTimeout"


async def test_defaults_and_nulls_round_trip(db: Database) -> None:
    store = SqlRequestLogStore(db)
    original = make_record(1)
    await store.write_batch([original])
    [read] = await store.recent()
    assert read == original
    assert read.attempts == [] and read.guard_verdicts is None and read.request_body is None


async def test_cost_is_stored_as_an_exact_decimal(db: Database) -> None:
    store = SqlRequestLogStore(db)
    await store.write_batch([make_record(i, cost_usd=0.1) for i in range(10)])
    async with db.engine.connect() as connection:
        total = await connection.scalar(select(func.sum(request_log.c.cost_usd)))
    assert total == pytest.approx(1.0, abs=1e-12)


async def test_duplicate_request_ids_are_ignored(db: Database) -> None:
    store = SqlRequestLogStore(db)
    first = make_record(1, status=200)
    await store.write_batch([first, make_record(2)])
    # A replayed batch, overlapping what is stored and repeating an id within itself.
    await store.write_batch([dataclasses.replace(first, status=500), make_record(2), make_record(3), make_record(3)])
    assert await store.count() == 3
    stored = {r.request_id: r for r in await store.recent()}
    assert stored[first.request_id].status == 200  # the first write wins


async def test_empty_batch_is_a_no_op(db: Database) -> None:
    store = SqlRequestLogStore(db)
    await store.write_batch([])
    assert await store.count() == 0


async def test_recent_is_newest_first_and_limited(db: Database) -> None:
    store = SqlRequestLogStore(db)
    await store.write_batch([make_record(i) for i in (3, 1, 4, 0, 2)])
    assert [r.request_id for r in await store.recent(limit=3)] == ["req-00000004", "req-00000003", "req-00000002"]
    assert await store.count() == 5


def ids(records: list[RequestRecord]) -> list[int]:
    return [int(r.request_id.removeprefix("req-")) for r in records]


async def test_query_filters_by_time_route_key_and_team(db: Database) -> None:
    store = SqlRequestLogStore(db)
    await store.write_batch(
        [
            make_record(i, route="a" if i % 2 else "b", key_id=f"k{i % 3}", team="t1" if i < 5 else "t2")
            for i in range(10)
        ]
    )
    base = 1_700_000_000.0
    assert ids(await store.query(since=base + 2, until=base + 6)) == [5, 4, 3, 2]
    assert ids(await store.query(route="a")) == [9, 7, 5, 3, 1]
    assert ids(await store.query(key_id="k0", route="b")) == [6, 0]
    assert ids(await store.query(team="t2", limit=2)) == [9, 8]
    assert await store.query(since=base + 100) == []


async def test_query_filters_by_status_and_caller_trace_and_get_finds_one(db: Database) -> None:
    store = SqlRequestLogStore(db)
    trace, other = "4bf92f3577b34da6a3ce929d0e0e4736", "4bf92f3577b34da6a3ce929d0e0e4737"
    await store.write_batch(
        [
            make_record(0, traceparent=f"00-{trace}-00f067aa0ba902b7-01"),
            make_record(1, status=429, traceparent=f"00-{trace}-00f067aa0ba902b8-00"),
            make_record(2, status=429, traceparent=f"00-{other}-00f067aa0ba902b7-01"),
            make_record(3),
        ]
    )
    assert ids(await store.query(trace_id=trace)) == [1, 0]
    assert ids(await store.query(status=429)) == [2, 1]
    assert ids(await store.query(status=429, trace_id=trace)) == [1]
    found = await store.get("req-00000002")
    assert found is not None and found.traceparent == f"00-{other}-00f067aa0ba902b7-01"
    assert await store.get("req-99999999") is None


async def test_a_large_batch_is_written_in_one_call(db: Database) -> None:
    store = SqlRequestLogStore(db)
    await store.write_batch([make_record(i) for i in range(5000)])
    assert await store.count() == 5000


async def test_a_failed_batch_writes_nothing(pg_target: DbTarget) -> None:
    db = await pg_target.open()
    try:
        store = SqlRequestLogStore(db)
        # 1e12 does not fit NUMERIC(18, 9): PostgreSQL refuses the row, and the batch with it.
        with pytest.raises(RecordsRejected):
            await store.write_batch([make_record(1), make_record(2, cost_usd=1e12)])
        assert await store.count() == 0
    finally:
        await db.aclose()


async def test_values_postgresql_cannot_hold_are_reported_as_rejected(pg_target: DbTarget) -> None:
    db = await pg_target.open()
    try:
        store = SqlRequestLogStore(db)
        with pytest.raises(RecordsRejected):
            await store.write_batch([make_record(1, model="nul\x00byte")])
        with pytest.raises(RecordsRejected):
            await store.write_batch([make_record(2, response_body={"text": "nul\x00byte"})])
        await store.ping()
    finally:
        await db.aclose()


async def test_an_unreachable_database_is_not_reported_as_rejected() -> None:
    db = await open_database("postgresql://postgres@127.0.0.1:1/test", migrate=False)
    try:
        store = SqlRequestLogStore(db)
        with pytest.raises(Exception) as caught:  # the driver decides the class
            await store.write_batch([make_record(1)])
        assert not isinstance(caught.value, ValueError)
        with pytest.raises(OSError):
            await store.ping()
    finally:
        await db.aclose()
