"""Fixtures for the store tests: a fresh database per test on SQLite and on PostgreSQL.

PostgreSQL tests use the server at ``KEEL_TEST_POSTGRES_URL`` (default: the local one). Each test gets
its own schema, dropped afterwards, so concurrent runs sharing the database never see each other. If
the server is unreachable those tests fail; set ``KEEL_TEST_SKIP_POSTGRES=1`` to skip them instead.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from keel.store.records import AttemptRecord, RequestRecord
from keel.store.sql import Database, open_database

PG_URL = os.environ.get("KEEL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
SKIP_PG = os.environ.get("KEEL_TEST_SKIP_POSTGRES") == "1"

# One prefix per test session: a schema name can never collide with another run's.
_SCHEMA_PREFIX = f"keel_test_{secrets.token_hex(4)}"
_schema_numbers = itertools.count()


async def _pg_connect() -> asyncpg.Connection:
    try:
        # lock_timeout: a teardown stuck behind a leaked lock fails the test instead of hanging the run.
        return await asyncpg.connect(PG_URL, timeout=5, server_settings={"lock_timeout": "30s"})
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        message = f"PostgreSQL at {PG_URL} is unreachable ({error!r}); set KEEL_TEST_SKIP_POSTGRES=1 to skip"
        if SKIP_PG:
            pytest.skip(message)
        pytest.fail(message)


@dataclass
class DbTarget:
    """Where a test's database lives; ``open()`` may be called again to re-open it."""

    backend: str
    url: str
    schema: str | None

    async def open(self, **kwargs: Any) -> Database:
        return await open_database(self.url, schema=self.schema, **kwargs)


@contextlib.asynccontextmanager
async def _pg_schema() -> AsyncIterator[DbTarget]:
    if SKIP_PG:
        pytest.skip("KEEL_TEST_SKIP_POSTGRES=1")
    connection = await _pg_connect()
    schema = f"{_SCHEMA_PREFIX}_{next(_schema_numbers)}"
    try:
        yield DbTarget("postgresql", PG_URL, schema)
    finally:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await connection.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_target(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[DbTarget]:
    if request.param == "sqlite":
        yield DbTarget("sqlite", f"sqlite:///{tmp_path}/data/keel.db", None)
        return
    async with _pg_schema() as target:
        yield target


@pytest.fixture
async def pg_target() -> AsyncIterator[DbTarget]:
    """A PostgreSQL-only database, for behaviour SQLite does not have."""
    async with _pg_schema() as target:
        yield target


@pytest.fixture
async def db(db_target: DbTarget) -> AsyncIterator[Database]:
    database = await db_target.open()
    try:
        yield database
    finally:
        await database.aclose()


def make_record(n: int, **overrides: Any) -> RequestRecord:
    """A small, valid record; ``n`` makes the id and timestamp unique."""
    values: dict[str, Any] = {
        "request_id": f"req-{n:08d}",
        "ts": 1_700_000_000.0 + n,
        "endpoint": "chat.completions",
        "status": 200,
        "config_hash": "cfg1",
    }
    values.update(overrides)
    return RequestRecord(**values)


def full_record(n: int = 1) -> RequestRecord:
    """Every field set to a non-default value."""
    return RequestRecord(
        request_id=f"req-full-{n}",
        ts=1_700_000_123.456789,
        endpoint="chat.completions",
        status=502,
        config_hash="sha256:abc",
        key_id="key_3f9a1c2b",
        team="search",
        feature="autocomplete",
        route="smart",
        deployment="gpt-4o-east",
        provider="openai",
        model="gpt-4o-2024-08-06",
        stream=True,
        error_class="UpstreamTimeout",
        error_code="timeout",
        latency_ms=1234.5,
        ttft_ms=321.25,
        overhead_ms=1.75,
        prompt_tokens=120,
        completion_tokens=45,
        total_tokens=165,
        cost_usd=0.001234567,
        guard_verdicts=[{"guard": "pii", "verdict": "redact", "spans": [[1, 4]], "score": 0.5}],
        attempts=[
            AttemptRecord("gpt-4o-east", "openai", 504, "UpstreamTimeout", 1000.125),
            AttemptRecord("gpt-4o-west", "openai", 200, None, 230.5),
        ],
        request_body={"model": "smart", "messages": [{"role": "user", "content": "héllo \u2603"}]},
        response_body={"choices": [{"message": {"content": "hi"}}], "usage": {"total_tokens": 165}},
        traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    )
