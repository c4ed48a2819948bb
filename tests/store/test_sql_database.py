"""Opening databases: URLs, file set-up, migrations."""

from __future__ import annotations

import asyncio
import dataclasses
import stat
from pathlib import Path

import asyncpg
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, make_url

from keel.store.sql import alembic_config, current_revision, mask_url, normalise_url, open_database
from keel.store.tables import metadata
from tests.store.conftest import PG_URL, DbTarget

# The newest migration: every fresh or re-opened database must end up there.
HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("sqlite:///relative/keel.db", "sqlite+aiosqlite:///relative/keel.db"),
        ("sqlite:////abs/keel.db", "sqlite+aiosqlite:////abs/keel.db"),
        ("sqlite:///:memory:", "sqlite+aiosqlite:///:memory:"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("postgresql://u@h:5432/db", "postgresql+asyncpg://u@h:5432/db"),
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql://u@h/db?sslmode=require", "postgresql+asyncpg://u@h/db?ssl=require"),
    ],
)
def test_urls_normalise_to_async_drivers(written: str, expected: str) -> None:
    assert normalise_url(written) == make_url(expected)


@pytest.mark.parametrize("url", ["mysql://u@h/db", "postgresql+psycopg2://u@h/db", "redis://h"])
def test_other_databases_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="unsupported database URL"):
        normalise_url(url)


def test_passwords_are_masked() -> None:
    masked = mask_url("postgresql://keel:s3cret@db.internal:5432/keel")
    assert "s3cret" not in masked
    assert masked == "postgresql://keel:***@db.internal:5432/keel"


async def test_database_repr_hides_the_password() -> None:
    db = await open_database("postgresql://keel:s3cret@127.0.0.1:1/keel", migrate=False)
    try:
        assert "s3cret" not in repr(db)
        assert "s3cret" not in db.url
        assert db.dialect == "postgresql"
    finally:
        await db.aclose()


async def test_sqlite_file_gets_a_private_directory_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "new" / "nested" / "keel.db"
    db = await open_database(f"sqlite:///{path}")
    try:
        assert path.exists()
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        async with db.engine.connect() as connection:
            assert await connection.scalar(sa.text("PRAGMA journal_mode")) == "wal"
    finally:
        await db.aclose()


async def test_relative_sqlite_path_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    db = await open_database("sqlite:///state/keel.db")
    await db.aclose()
    assert (tmp_path / "state" / "keel.db").exists()


async def test_in_memory_sqlite_is_migrated() -> None:
    db = await open_database("sqlite:///:memory:")
    try:
        async with db.engine.connect() as connection:
            assert await connection.scalar(sa.select(sa.func.count()).select_from(metadata.tables["api_keys"])) == 0
        assert "memory" in repr(db)
    finally:
        await db.aclose()


def _drift(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_migrations_create_the_schema_and_reopening_is_a_no_op(db_target: DbTarget) -> None:
    db = await db_target.open()
    try:
        async with db.engine.connect() as connection:
            assert await connection.run_sync(current_revision) == HEAD
            names = await connection.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
        assert {"request_log", "api_keys", "alembic_version"} <= names
    finally:
        await db.aclose()

    again = await db_target.open()
    try:
        async with again.engine.connect() as connection:
            assert await connection.run_sync(current_revision) == HEAD
            versions = (await connection.execute(sa.text("SELECT version_num FROM alembic_version"))).all()
        assert versions == [(HEAD,)]
    finally:
        await again.aclose()


async def test_migrated_schema_matches_the_table_definitions(db_target: DbTarget) -> None:
    db = await db_target.open()
    try:
        async with db.engine.connect() as connection:
            assert await connection.run_sync(_drift) == []
    finally:
        await db.aclose()


async def test_unreachable_database_fails_to_open_without_leaking_the_password() -> None:
    with pytest.raises(Exception) as caught:  # the driver decides the exact class
        await open_database("postgresql://keel:s3cret@127.0.0.1:1/keel")
    assert "s3cret" not in str(caught.value)


async def test_processes_opening_a_fresh_database_together_migrate_once(db_target: DbTarget) -> None:
    databases = await asyncio.gather(*(db_target.open() for _ in range(4)))
    try:
        async with databases[0].engine.connect() as connection:
            assert await connection.run_sync(current_revision) == HEAD
    finally:
        for db in databases:
            await db.aclose()


async def test_a_schema_name_needing_quotes_is_used_as_written(pg_target: DbTarget) -> None:
    assert pg_target.schema is not None
    target = dataclasses.replace(pg_target, schema=pg_target.schema + "-Mixed,Case")
    db = await target.open()
    try:
        async with db.engine.connect() as connection:
            tables = await connection.run_sync(lambda c: sa.inspect(c).get_table_names(schema=target.schema))
        assert "request_log" in tables
    finally:
        await db.aclose()
        connection = await asyncpg.connect(PG_URL)
        await connection.execute(f'DROP SCHEMA IF EXISTS "{target.schema}" CASCADE')
        await connection.close()
