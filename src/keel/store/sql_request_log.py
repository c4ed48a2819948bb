"""The request log in SQL (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row

from keel.store.records import RequestRecord, record_from_dict, record_to_dict
from keel.store.sql import Database, json_dumps
from keel.store.tables import request_log

_JSON_COLUMNS = tuple(c.name for c in request_log.columns if isinstance(c.type, sa.JSON))


class RecordsRejected(ValueError):
    """The database refused the records themselves (bad value, constraint), not the connection.

    A ``ValueError`` so that the request log writer, which knows nothing of SQL, can tell records
    worth retrying later (outage) from records that will never be accepted.
    """


def _is_data_error(error: BaseException) -> bool:
    """True when retrying the same rows can never succeed."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sa.exc.DataError | sa.exc.IntegrityError):
            return True
        # Drivers convert unbindable Python values with ValueError/TypeError (asyncpg's DataError is
        # one); a connection failure is an OSError or a driver error without them in its chain.
        if isinstance(current, ValueError | TypeError):
            return True
        # SQLSTATE classes 22 (data exception) and 23 (integrity violation) on PostgreSQL.
        sqlstate = getattr(current, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate[:2] in ("22", "23"):
            return True
        # Only explicit causes: an implicit __context__ may be an unrelated error handled earlier.
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return False


def _record_from_row(row: Row[Any]) -> RequestRecord:
    data = dict(row._mapping)
    data["attempts"] = data["attempts"] or []
    return record_from_dict(data)


class SqlRequestLogStore:
    """``RequestLogStore`` over a ``Database``.

    Writes are idempotent on ``request_id``: replaying a batch that was partly or wholly written before
    (the spool does this after an outage) adds nothing twice.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._postgres = db.dialect == "postgresql"
        insert = postgresql.insert if self._postgres else sqlite.insert
        statement = insert(request_log).on_conflict_do_nothing(index_elements=["request_id"])
        # Rows are bound straight to the driver: per-row parameter processing in SQLAlchemy costs
        # more than the database's own work on a batch of small rows, and this runs on the event loop
        # that serves requests. The statement is still built (and compiled once) by SQLAlchemy.
        compiled = statement.compile(dialect=db.engine.dialect)
        if compiled.positiontup is None:
            raise RuntimeError(f"{db.dialect} driver does not take positional parameters")
        self._insert_sql = str(compiled)
        self._insert_columns = tuple(compiled.positiontup)

    def _driver_row(self, record: RequestRecord) -> tuple[Any, ...]:
        """A record as the driver takes it: JSON already serialised, money as Decimal on PostgreSQL."""
        data = record_to_dict(record)
        for name in _JSON_COLUMNS:
            value = data[name]
            data[name] = None if value is None else json_dumps(value)
        cost = data["cost_usd"]
        if self._postgres and cost is not None:
            # repr() is the shortest decimal that reads back as the same float: no binary noise.
            data["cost_usd"] = Decimal(repr(float(cost)))
        return tuple(data[name] for name in self._insert_columns)

    async def write_batch(self, records: list[RequestRecord]) -> None:
        if not records:
            return
        try:
            rows = [self._driver_row(record) for record in records]
            async with self._db.engine.begin() as connection:
                # A list of rows makes this one executemany, not a statement per row.
                await connection.exec_driver_sql(self._insert_sql, rows)
        except Exception as error:
            if _is_data_error(error):
                raise RecordsRejected(f"{type(error).__name__}: {_first_line(error)}") from error
            raise

    async def ping(self) -> None:
        """Raise if the database cannot be reached; lets the writer tell a bad batch from an outage."""
        async with self._db.engine.connect() as connection:
            await connection.execute(sa.text("SELECT 1"))

    async def recent(self, limit: int = 100) -> list[RequestRecord]:
        return await self.query(limit=limit)

    async def query(
        self,
        since: float | None = None,
        until: float | None = None,
        route: str | None = None,
        key_id: str | None = None,
        limit: int = 100,
        *,
        team: str | None = None,
        status: int | None = None,
        trace_id: str | None = None,
    ) -> list[RequestRecord]:
        """Records with ``since <= ts < until`` matching every given filter, newest first.

        ``trace_id`` (32 lower-case hex digits) selects the requests that joined that caller's trace.
        """
        conditions: list[sa.ColumnElement[bool]] = []
        if status is not None:
            conditions.append(request_log.c.status == status)
        if trace_id is not None:
            # A range rather than LIKE: it uses the index on every dialect ("." sorts right after "-").
            conditions.append(request_log.c.traceparent >= f"00-{trace_id}-")
            conditions.append(request_log.c.traceparent < f"00-{trace_id}.")
        if since is not None:
            conditions.append(request_log.c.ts >= since)
        if until is not None:
            conditions.append(request_log.c.ts < until)
        if route is not None:
            conditions.append(request_log.c.route == route)
        if key_id is not None:
            conditions.append(request_log.c.key_id == key_id)
        if team is not None:
            conditions.append(request_log.c.team == team)
        statement = (
            sa.select(request_log)
            .where(*conditions)
            # request_id breaks ties so that pages are stable when timestamps collide.
            .order_by(request_log.c.ts.desc(), request_log.c.request_id.desc())
            .limit(max(0, limit))
        )
        async with self._db.engine.connect() as connection:
            rows: Sequence[Row[Any]] = (await connection.execute(statement)).all()
        return [_record_from_row(row) for row in rows]

    async def get(self, request_id: str) -> RequestRecord | None:
        statement = sa.select(request_log).where(request_log.c.request_id == request_id)
        async with self._db.engine.connect() as connection:
            row = (await connection.execute(statement)).first()
        return None if row is None else _record_from_row(row)

    async def count(self) -> int:
        async with self._db.engine.connect() as connection:
            result = await connection.scalar(sa.select(sa.func.count()).select_from(request_log))
        return int(result or 0)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:300] if text else ""
