"""SQL sources on a SQLite file and on the local PostgreSQL (``KEEL_TEST_POSTGRES_URL``).

Each PostgreSQL test creates its own uniquely named schema and drops it afterwards; set
``KEEL_TEST_SKIP_POSTGRES=1`` to skip them on a machine without the server.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest
from pydantic import TypeAdapter
from sqlalchemy import event

from keel.guards.validators.sources import DataSource, SourceConfig, SourceUnavailable, SqlEngines, build_source
from keel.guards.validators.sources.sql import database_url
from tests.clocks import ManualClock

PG_URL = os.environ.get("KEEL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
SKIP_PG = os.environ.get("KEEL_TEST_SKIP_POSTGRES") == "1"

_SOURCE: TypeAdapter[SourceConfig] = TypeAdapter(SourceConfig)


def _source(
    config: dict[str, Any], engines: SqlEngines, base_dir: Path, clock: ManualClock | None = None
) -> DataSource:
    parsed = _SOURCE.validate_json(orjson.dumps({"kind": "sql"} | config))
    return build_source(parsed, base_dir=base_dir, session=None, engines=engines, clock=clock or ManualClock())


def _count_queries(engines: SqlEngines, url: str, base_dir: Path) -> list[str]:
    """Every statement the source's engine sends to the database."""
    sent: list[str] = []
    engine = engines.engine(database_url(url, base_dir))

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _record(*args: Any) -> None:
        sent.append(args[2])

    return sent


@pytest.fixture
async def engines() -> AsyncIterator[SqlEngines]:
    shared = SqlEngines()
    yield shared
    await shared.aclose()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> str:
    with sqlite3.connect(tmp_path / "shop.db") as db:
        db.execute("CREATE TABLE products (id TEXT PRIMARY KEY, stock INTEGER NOT NULL)")
        db.executemany("INSERT INTO products VALUES (?, ?)", [("SKU-1", 3), ("SKU-2", 0), ("SKU-3", 7)])
    return "sqlite:///shop.db"  # relative to the config directory, tmp_path


async def test_sqlite_one_query_per_value(tmp_path: Path, sqlite_db: str, engines: SqlEngines) -> None:
    query = "SELECT 1 FROM products WHERE id = :value AND stock > 0"
    source = _source({"url": sqlite_db, "query": query, "cache_ttl_s": 0}, engines, tmp_path)
    sent = _count_queries(engines, sqlite_db, tmp_path)
    assert await source.contains(["SKU-1", "SKU-2", "SKU-9", "SKU-1"]) == {
        "SKU-1": True,
        "SKU-2": False,
        "SKU-9": False,
    }
    assert len(sent) == 3


async def test_values_are_bound_not_pasted(tmp_path: Path, sqlite_db: str, engines: SqlEngines) -> None:
    query = "SELECT 1 FROM products WHERE id = :value"
    source = _source({"url": sqlite_db, "query": query}, engines, tmp_path)
    hostile = "x' OR '1'='1"
    assert await source.contains([hostile]) == {hostile: False}
    with sqlite3.connect(tmp_path / "shop.db") as db:
        assert db.execute("SELECT count(*) FROM products").fetchone() == (3,)


async def test_sqlite_batched_query(tmp_path: Path, sqlite_db: str, engines: SqlEngines) -> None:
    query = "SELECT id FROM products WHERE id IN :values AND stock > 0"
    source = _source({"url": sqlite_db, "query": query, "cache_ttl_s": 0}, engines, tmp_path)
    sent = _count_queries(engines, sqlite_db, tmp_path)
    assert await source.contains(["SKU-1", "SKU-2", "SKU-3", "SKU-4"]) == {
        "SKU-1": True,
        "SKU-2": False,
        "SKU-3": True,
        "SKU-4": False,
    }
    assert len(sent) == 1


async def test_results_are_cached_for_the_ttl(tmp_path: Path, sqlite_db: str, engines: SqlEngines) -> None:
    clock = ManualClock()
    query = "SELECT 1 FROM products WHERE id = :value AND stock > 0"
    source = _source({"url": sqlite_db, "query": query, "cache_ttl_s": 30}, engines, tmp_path, clock)
    sent = _count_queries(engines, sqlite_db, tmp_path)
    for _ in range(3):
        assert await source.contains(["SKU-1", "SKU-2"]) == {"SKU-1": True, "SKU-2": False}
    assert len(sent) == 2
    with sqlite3.connect(tmp_path / "shop.db") as db:
        db.execute("UPDATE products SET stock = 5 WHERE id = 'SKU-2'")
    clock.advance(31)
    assert await source.contains(["SKU-1", "SKU-2"]) == {"SKU-1": True, "SKU-2": True}
    assert len(sent) == 4


async def test_one_engine_per_database_url(tmp_path: Path, sqlite_db: str, engines: SqlEngines) -> None:
    url = database_url(sqlite_db, tmp_path)
    assert engines.engine(url) is engines.engine(database_url(sqlite_db, tmp_path))
    assert engines.engine(url) is not engines.engine(database_url("sqlite:///other.db", tmp_path))


async def test_a_missing_sqlite_file_is_unavailable_and_not_created(tmp_path: Path, engines: SqlEngines) -> None:
    source = _source({"url": "sqlite:///absent.db", "query": "SELECT 1 FROM p WHERE id = :value"}, engines, tmp_path)
    with pytest.raises(SourceUnavailable, match=r"sql sqlite:///absent.db: no such file .*absent.db"):
        await source.contains(["SKU-1"])
    assert not (tmp_path / "absent.db").exists()


async def test_a_broken_query_is_unavailable(tmp_path: Path, sqlite_db: str, engines: SqlEngines) -> None:
    source = _source({"url": sqlite_db, "query": "SELECT 1 FROM nowhere WHERE id = :value"}, engines, tmp_path)
    with pytest.raises(SourceUnavailable, match="no such table: nowhere"):
        await source.contains(["SKU-1"])


@pytest.fixture
async def pg_schema() -> AsyncIterator[str]:
    if SKIP_PG:
        pytest.skip("KEEL_TEST_SKIP_POSTGRES=1")
    try:
        connection = await asyncpg.connect(PG_URL, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        pytest.fail(f"PostgreSQL at {PG_URL} is unreachable ({error!r}); set KEEL_TEST_SKIP_POSTGRES=1 to skip")
    schema = f"keel_validators_{secrets.token_hex(6)}"
    try:
        await connection.execute(f'CREATE SCHEMA "{schema}"')
        await connection.execute(f'CREATE TABLE "{schema}".products (id TEXT PRIMARY KEY, stock INTEGER NOT NULL)')
        await connection.executemany(
            f'INSERT INTO "{schema}".products VALUES ($1, $2)', [("SKU-1", 3), ("SKU-2", 0), ("SKU-3", 7)]
        )
        yield schema
    finally:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await connection.close()


async def test_postgresql_one_query_per_value(pg_schema: str, engines: SqlEngines, tmp_path: Path) -> None:
    query = f'SELECT 1 FROM "{pg_schema}".products WHERE id = :value AND stock > 0'
    source = _source({"url": PG_URL, "query": query}, engines, tmp_path)
    assert await source.contains(["SKU-1", "SKU-2", "SKU-9"]) == {"SKU-1": True, "SKU-2": False, "SKU-9": False}
    assert source.description == f"sql {PG_URL}"


async def test_postgresql_batched_query(pg_schema: str, engines: SqlEngines, tmp_path: Path) -> None:
    query = f'SELECT id FROM "{pg_schema}".products WHERE id IN :values AND stock > 0'
    source = _source({"url": PG_URL, "query": query, "cache_ttl_s": 0}, engines, tmp_path)
    sent = _count_queries(engines, PG_URL, tmp_path)
    assert await source.contains(["SKU-1", "SKU-2", "SKU-3"]) == {"SKU-1": True, "SKU-2": False, "SKU-3": True}
    assert len(sent) == 1


async def test_postgresql_slow_query_is_unavailable(pg_schema: str, engines: SqlEngines, tmp_path: Path) -> None:
    query = f'SELECT 1 FROM "{pg_schema}".products, pg_sleep(5) WHERE id = :value'
    source = _source({"url": PG_URL, "query": query, "timeout_s": 0.2}, engines, tmp_path)
    with pytest.raises(SourceUnavailable, match=r"no answer within 0.2 s"):
        await source.contains(["SKU-1"])


async def test_an_unreachable_server_is_unavailable(engines: SqlEngines, tmp_path: Path) -> None:
    dead = "postgresql://postgres:secret@127.0.0.1:1/test"  # nothing listens on port 1
    source = _source({"url": dead, "query": "SELECT 1 WHERE :value = 'x'"}, engines, tmp_path)
    with pytest.raises(SourceUnavailable) as caught:
        await source.contains(["SKU-1"])
    assert str(caught.value).startswith("sql postgresql://postgres:***@127.0.0.1:1/test: ")
    assert "secret" not in str(caught.value)
