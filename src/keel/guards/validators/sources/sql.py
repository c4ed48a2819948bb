"""A SQL query as a data source, on SQLite or PostgreSQL through SQLAlchemy's async engines.

Engines are pooled and shared: ``SqlEngines`` keeps one per database URL for the whole process (build
it at start-up, close it at shutdown). Values are always bound parameters. A query with ``:value`` runs
once per distinct value on one pooled connection and any returned row means "present"; a query with
``IN :values`` runs once for all of them and its first column lists the values present.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from keel.guards.validators.result import excerpt
from keel.guards.validators.sources.base import SourceUnavailable
from keel.store.sql import PG_CONNECT_TIMEOUT_S, POSTGRES_DRIVER, SQLITE_DRIVER, normalise_url, sqlite_path


def database_url(url: str, base_dir: Path) -> URL:
    """The async-driver URL. A SQLite file is opened read-only (a missing file is an error, not a new
    empty database), and a relative path is taken relative to ``base_dir``."""
    target = normalise_url(url)
    path = sqlite_file(url, base_dir)
    if path is None:
        return target
    return target.set(database=f"file:{path}", query={"mode": "ro", "uri": "true"})


def sqlite_file(url: str, base_dir: Path) -> Path | None:
    """The file a SQLite URL names, relative paths taken relative to ``base_dir``; None otherwise."""
    target = normalise_url(url)
    path = sqlite_path(target) if target.drivername == SQLITE_DRIVER else None
    return None if path is None else base_dir / path


class SqlEngines:
    """One async engine (and so one connection pool) per database URL, shared by all SQL sources."""

    def __init__(self) -> None:
        self._engines: dict[str, AsyncEngine] = {}

    def engine(self, url: URL) -> AsyncEngine:
        key = url.render_as_string(hide_password=False)
        engine = self._engines.get(key)
        if engine is None:
            kwargs: dict[str, Any] = {"hide_parameters": True}  # values from answers stay out of error text
            if url.drivername == POSTGRES_DRIVER:
                kwargs["connect_args"] = {"timeout": PG_CONNECT_TIMEOUT_S}
                kwargs["pool_pre_ping"] = True
            engine = create_async_engine(url, **kwargs)
            self._engines[key] = engine
        return engine

    async def aclose(self) -> None:
        engines, self._engines = list(self._engines.values()), {}
        for engine in engines:
            await engine.dispose()


class SqlSource:
    def __init__(
        self,
        engine: AsyncEngine,
        query: str,
        *,
        batched: bool,
        timeout_s: float,
        label: str,
        file: Path | None = None,
    ) -> None:
        """``file``: the SQLite file behind ``engine``, checked before connecting so that a missing
        file is reported as such rather than as a driver error."""
        self.description = f"sql {label}"
        self._engine = engine
        self._file = file
        self._batched = batched
        self._timeout_s = timeout_s
        statement = sa.text(query)
        self._statement = statement.bindparams(sa.bindparam("values", expanding=True)) if batched else statement

    async def contains(self, values: Sequence[str]) -> dict[str, bool]:
        distinct = list(dict.fromkeys(values))
        if not distinct:
            return {}
        if self._file is not None and not self._file.is_file():
            raise SourceUnavailable(f"{self.description}: no such file {self._file}")
        try:
            async with asyncio.timeout(self._timeout_s), self._engine.connect() as connection:
                if self._batched:
                    result = await connection.execute(self._statement, {"values": distinct})
                    present = {str(row[0]) for row in result}
                    return {value: value in present for value in distinct}
                answers: dict[str, bool] = {}
                for value in distinct:
                    result = await connection.execute(self._statement, {"value": value})
                    answers[value] = result.first() is not None
                return answers
        except TimeoutError:
            raise SourceUnavailable(f"{self.description}: no answer within {self._timeout_s:g} s") from None
        except (SQLAlchemyError, OSError) as error:
            raise SourceUnavailable(f"{self.description}: {_reason(error)}") from None


def _reason(error: Exception) -> str:
    cause: BaseException = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    lines = str(cause).strip().splitlines()
    # Driver messages can quote the bound value (an answer's text): one line, and a short one.
    return f"{type(cause).__name__}: {excerpt(lines[0], 160)}" if lines else type(cause).__name__
