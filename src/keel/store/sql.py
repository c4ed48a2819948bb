"""Opening Keel's database: URL handling, engine set-up and migrations to the current schema.

Users write ``sqlite:///path.db`` or ``postgresql://user@host/db``; Keel always talks to them through
the async drivers (aiosqlite, asyncpg). Opening a database brings its schema to the latest Alembic
revision, so a fresh file and an old one are both ready to use once ``open_database`` returns.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

SQLITE_DRIVER = "sqlite+aiosqlite"
POSTGRES_DRIVER = "postgresql+asyncpg"
_POSTGRES_SCHEMES = {"postgres", "postgresql", POSTGRES_DRIVER}
_SQLITE_SCHEMES = {"sqlite", SQLITE_DRIVER}

# Keeps two gateway replicas that start together from both running the same migration.
_MIGRATION_LOCK_ID = 0x6B65656C  # "keel"
MIGRATION_LOCK_TIMEOUT_S = 120

# How long a PostgreSQL connection attempt may take before the caller sees an error (and the request
# log writer spools to disk); asyncpg's own default of 60 s would let its buffer grow for a minute.
PG_CONNECT_TIMEOUT_S = 10.0
SQLITE_BUSY_TIMEOUT_MS = 5000
_WAL_ATTEMPTS = 100
# Execution option naming the statement that opens a SQLite transaction (see _sqlite_begin).
SQLITE_BEGIN_OPTION = "keel_sqlite_begin"


def normalise_url(url: str | URL) -> URL:
    """The async-driver form of a database URL as users write it.

    ``postgres://`` and ``postgresql://`` become ``postgresql+asyncpg://``; ``sqlite://`` becomes
    ``sqlite+aiosqlite://``. libpq's ``sslmode`` query option is renamed to asyncpg's ``ssl``.
    """
    parsed = make_url(url) if isinstance(url, str) else url
    scheme = parsed.drivername
    if scheme in _SQLITE_SCHEMES:
        return parsed.set(drivername=SQLITE_DRIVER)
    if scheme in _POSTGRES_SCHEMES:
        parsed = parsed.set(drivername=POSTGRES_DRIVER)
        if "sslmode" in parsed.query:
            query = dict(parsed.query)
            query["ssl"] = query.pop("sslmode")
            parsed = parsed.set(query=query)
        return parsed
    raise ValueError(f"unsupported database URL scheme {scheme!r}: use sqlite:///path.db or postgresql://user@host/db")


def mask_url(url: str | URL) -> str:
    """The URL with any password replaced, safe for logs and reprs."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except sa.exc.ArgumentError:
        return "<unparseable database URL>"
    if parsed.drivername in _SQLITE_SCHEMES:
        # Shown as written: rendering would percent-escape ":memory:" into something unrecognisable.
        return f"{parsed.drivername}:///{parsed.database or ''}"
    return parsed.render_as_string(hide_password=True)


def sqlite_path(url: URL) -> Path | None:
    """The file behind a SQLite URL, or None for an in-memory database."""
    database = url.database
    if not database or database == ":memory:" or url.query.get("mode") == "memory":
        return None
    if database.startswith("file:"):
        # URI filenames are passed through to SQLite untouched; Keel does not manage their directory.
        return None
    return Path(database)


def json_dumps(value: Any) -> str:
    # orjson is several times faster than json for request bodies; ``default=str`` keeps an odd value
    # in a guard verdict from failing the whole batch it belongs to.
    return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def _sqlite_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Python's sqlite3 module opens transactions itself, and not before DDL, so a migration would
    # run outside any transaction. Turning that off lets _sqlite_begin issue every BEGIN instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # NORMAL is durable across process crashes in WAL mode and much faster than FULL.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # Plain BEGIN takes the write lock at the first write; migrations ask for BEGIN IMMEDIATE so that
    # two processes opening one file check and create the schema one after the other.
    connection.exec_driver_sql(connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "BEGIN"))


class Database:
    """An open database: the async engine plus what the stores need to know about it."""

    def __init__(self, engine: AsyncEngine, *, schema: str | None = None) -> None:
        self.engine = engine
        self.schema = schema
        self.url = mask_url(engine.url)  # never the password

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    async def aclose(self) -> None:
        await self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({self.url!r})"


def create_engine(url: str | URL, *, schema: str | None = None) -> AsyncEngine:
    """An engine for ``url`` without touching the database (no connection is made yet).

    ``schema`` (PostgreSQL only) puts Keel's tables in that schema via the connection's search_path.
    """
    target = normalise_url(url)
    kwargs: dict[str, Any] = {
        "json_serializer": json_dumps,
        "json_deserializer": orjson.loads,
        # Request bodies are bound as parameters; an error message must never carry them into logs.
        "hide_parameters": True,
    }
    if target.drivername == SQLITE_DRIVER:
        if schema is not None:
            raise ValueError("a schema can only be chosen on PostgreSQL")
        path = sqlite_path(target)
        if path is not None:
            _make_private_parent(path)
        engine = create_async_engine(target, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    connect_args: dict[str, Any] = {"timeout": PG_CONNECT_TIMEOUT_S}
    if schema is not None:
        # Quoted, as CREATE SCHEMA quotes it when needed: a comma or capital must not change its meaning.
        quoted = '"' + schema.replace('"', '""') + '"'
        connect_args["server_settings"] = {"search_path": quoted}
    # pre_ping: after a database restart the pool would otherwise hand out dead connections once.
    return create_async_engine(target, connect_args=connect_args, pool_pre_ping=True, **kwargs)


def _make_private_parent(path: Path) -> None:
    parent = path.expanduser().absolute().parent
    if parent.exists():
        return
    # Only directories Keel creates are made private; an existing directory is the user's choice.
    parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(parent, 0o700)  # mkdir's mode is filtered by the umask


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic configured in code: no ini file is needed to migrate."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def _enable_wal(engine: AsyncEngine) -> None:
    """Put a SQLite file in WAL mode, which lets readers (the admin API) run while the writer commits.

    The mode is stored in the file, so this is needed once, but it cannot run inside a transaction and
    SQLite refuses the switch outright, rather than waiting, while another connection is mid-way
    through one: a twin process opening the same fresh file. Hence the raw connection and the retry.
    """
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        for attempt in itertools.count(1):
            try:
                cursor = await driver.execute("PRAGMA journal_mode=WAL")
                await cursor.close()
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or attempt >= _WAL_ATTEMPTS:
                    raise
                await asyncio.sleep(0.05)


def _upgrade(connection: Connection, schema: str | None) -> None:
    if connection.dialect.name == "postgresql":
        # A migration stuck behind another session's lock should fail loudly, not hang startup.
        connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{MIGRATION_LOCK_TIMEOUT_S}s'")
        # Held until this transaction commits, so concurrent starters migrate one after the other
        # (CREATE SCHEMA IF NOT EXISTS included: it is not safe against a concurrent twin).
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
        if schema is not None:
            connection.execute(sa.schema.CreateSchema(schema, if_not_exists=True))
    command.upgrade(alembic_config(connection), "head")


def current_revision(connection: Connection) -> str | None:
    """The Alembic revision a database is at (None before the first migration)."""
    return MigrationContext.configure(connection).get_current_revision()


async def open_database(url: str, *, schema: str | None = None, migrate: bool = True) -> Database:
    """Open ``url`` and bring its schema up to date.

    SQLite files get their parent directory created (mode 0700) and are switched to WAL mode. With
    ``migrate=False`` the database is not touched until first use (it may even be down).
    """
    engine = create_engine(url, schema=schema)
    if migrate:
        try:
            if engine.dialect.name == "sqlite" and sqlite_path(engine.url) is not None:
                await _enable_wal(engine)
            async with engine.connect() as connection:
                await connection.execution_options(**{SQLITE_BEGIN_OPTION: "BEGIN IMMEDIATE"})
                async with connection.begin():
                    await connection.run_sync(_upgrade, schema)
        except BaseException:
            await engine.dispose()
            raise
    return Database(engine, schema=schema)
