"""What pruning the request log costs, and how long a request-log write waits behind it.

Fills a fresh database with ``--rows`` request records (half older than the 30-day limit), then prunes
while a writer keeps inserting batches of 500 records, as the gateway's log writer does, and reports
the prune's wall time, rows per second and the writer's batch latencies (p50 / max) during the prune
against the same writer with no prune running.

    .venv/bin/python bench/retention.py [--rows 200000] [--database sqlite|postgresql] [--batch-rows 5000]

PostgreSQL uses the local server (``postgresql://postgres@127.0.0.1:5432/test``) in a scratch schema,
dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import asyncpg

from keel.store.records import RequestRecord
from keel.store.retention import DAY_S, RetentionConfig, prune
from keel.store.sql import Database, open_database
from keel.store.sql_request_log import SqlRequestLogStore

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
WRITE_BATCH = 500


def _records(start: int, count: int, ts: float) -> list[RequestRecord]:
    return [
        RequestRecord(
            request_id=f"req-{n:09d}",
            ts=ts + n * 1e-3,
            endpoint="chat.completions",
            status=200,
            config_hash="cfg",
            route="bot",
            deployment="gpt",
            prompt_tokens=100,
            completion_tokens=20,
            cost_usd=0.0001,
        )
        for n in range(start, start + count)
    ]


async def _fill(store: SqlRequestLogStore, rows: int, now: float) -> None:
    for start in range(0, rows, 5000):
        age = 60 if start < rows // 2 else 1
        await store.write_batch(_records(start, min(5000, rows - start), now - age * DAY_S))


async def _writer(store: SqlRequestLogStore, first: int, stop: asyncio.Event, now: float) -> list[float]:
    """Batches of ``WRITE_BATCH`` fresh records until ``stop``; each batch's latency in ms."""
    latencies: list[float] = []
    n = first
    while not stop.is_set():
        began = time.perf_counter()
        await store.write_batch(_records(n, WRITE_BATCH, now))
        latencies.append((time.perf_counter() - began) * 1000)
        n += WRITE_BATCH
        await asyncio.sleep(0.01)
    return latencies


async def measure(db: Database, rows: int, batch_rows: int) -> None:
    store = SqlRequestLogStore(db)
    now = time.time()
    await _fill(store, rows, now)

    stop = asyncio.Event()
    idle_writer = asyncio.create_task(_writer(store, 10**8, stop, now))
    await asyncio.sleep(3)
    stop.set()
    idle = await idle_writer

    stop = asyncio.Event()
    busy_writer = asyncio.create_task(_writer(store, 2 * 10**8, stop, now))
    began = time.perf_counter()
    deleted = await prune(db, RetentionConfig(request_log_days=30, batch_rows=batch_rows), now)
    took = time.perf_counter() - began
    stop.set()
    busy = await busy_writer

    print(f"{db.dialect}: {rows:,} rows, batch_rows {batch_rows:,}")
    print(f"  prune: {deleted['request_log']:,} deleted in {took:.2f} s ({deleted['request_log'] / took:,.0f} rows/s)")
    for name, latencies in (("no prune", idle), ("during prune", busy)):
        print(
            f"  log write of {WRITE_BATCH} records, {name}: p50 {statistics.median(latencies):.1f} ms, "
            f"max {max(latencies):.1f} ms ({len(latencies)} batches)"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--batch-rows", type=int, default=5000)
    args = parser.parse_args()
    if args.database == "sqlite":
        with tempfile.TemporaryDirectory() as scratch:
            db = await open_database(f"sqlite:///{Path(scratch)}/keel.db")
            try:
                await measure(db, args.rows, args.batch_rows)
            finally:
                await db.aclose()
        return
    schema = f"keel_bench_{secrets.token_hex(4)}"
    db = await open_database(PG_URL, schema=schema)
    try:
        await measure(db, args.rows, args.batch_rows)
    finally:
        await db.aclose()
        connection = await asyncpg.connect(PG_URL)
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await connection.close()


if __name__ == "__main__":
    asyncio.run(main())
