"""Durable rollout state, so that a restarted gateway resumes each rollout where it stopped.

A save is checked against what is stored: the new state must descend from it (the stored history is
a prefix of the new one). Two replicas analysing the same rollout, or an operator pausing it while
the loop advances it, therefore cannot silently overwrite each other: the later save raises
``RolloutConflict`` and its writer reloads. Re-saving an unchanged state is a no-op. The database also
allows only one rollout per route that is not final.
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import AsyncIterator
from typing import Any, Protocol, cast

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from keel.rollout.machine import Phase, RolloutError, RolloutEvent, RolloutState
from keel.store.sql import SQLITE_BEGIN_OPTION, Database
from keel.store.tables import rollouts


class RolloutConflict(RolloutError):
    """The stored rollout changed since this state was read, or its route already has an active rollout."""


class RolloutStore(Protocol):
    async def save(self, state: RolloutState) -> None: ...

    async def get(self, rollout_id: str) -> RolloutState | None: ...

    async def active_for(self, route: str) -> RolloutState | None:
        """The route's rollout that is not final, if any."""
        ...

    async def active(self) -> builtins.list[RolloutState]:
        """Every rollout that is not final, oldest first: what the analysis loop works through."""
        ...

    async def list(self, limit: int = 100, route: str | None = None) -> builtins.list[RolloutState]:
        """Rollouts newest first, optionally of one route."""
        ...


class SqlRolloutStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def save(self, state: RolloutState) -> None:
        """Insert or update; raises ``RolloutConflict`` if ``state`` does not descend from the stored one."""
        try:
            async with self._write() as conn:
                query = sa.select(rollouts.c.history).where(rollouts.c.rollout_id == state.rollout_id)
                stored = (await conn.execute(query.with_for_update())).scalar_one_or_none()
                if stored is None:
                    await self._insert(conn, state)
                    return
                previous = _events(stored)
                if previous == state.history:
                    return
                if previous != state.history[: len(previous)]:
                    raise RolloutConflict(
                        f"rollout {state.rollout_id} changed since it was read "
                        f"(stored version {len(previous)}, saving {state.version}): reload it and try again"
                    )
                await conn.execute(
                    sa.update(rollouts).where(rollouts.c.rollout_id == state.rollout_id).values(**_row(state))
                )
        except sa.exc.IntegrityError as error:
            # A twin inserted the same id, or another active rollout on the route, between check and write.
            raise RolloutConflict(
                f"rollout {state.rollout_id} on route {state.route!r} conflicts: {error.orig}"
            ) from None

    async def get(self, rollout_id: str) -> RolloutState | None:
        return await self._one(sa.select(rollouts).where(rollouts.c.rollout_id == rollout_id))

    async def active_for(self, route: str) -> RolloutState | None:
        return await self._one(sa.select(rollouts).where(rollouts.c.active_route == route))

    async def active(self) -> builtins.list[RolloutState]:
        query = sa.select(rollouts).where(rollouts.c.active_route.is_not(None)).order_by(rollouts.c.created_at)
        return await self._many(query)

    async def list(self, limit: int = 100, route: str | None = None) -> builtins.list[RolloutState]:
        query = sa.select(rollouts).order_by(rollouts.c.created_at.desc(), rollouts.c.rollout_id).limit(limit)
        if route is not None:
            query = query.where(rollouts.c.route == route)
        return await self._many(query)

    async def _insert(self, conn: AsyncConnection, state: RolloutState) -> None:
        if not state.terminal:
            query = sa.select(rollouts.c.rollout_id).where(rollouts.c.active_route == state.route)
            other = (await conn.execute(query)).scalar_one_or_none()
            if other is not None:
                raise RolloutConflict(f"route {state.route!r} already has an active rollout, {other}")
        await conn.execute(sa.insert(rollouts).values(rollout_id=state.rollout_id, **_row(state)))

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        async with self._db.engine.connect() as conn:
            # SQLite: take the write lock before the read, so the check and the write see the same row
            # (PostgreSQL locks the row with SELECT … FOR UPDATE instead).
            await conn.execution_options(**{SQLITE_BEGIN_OPTION: "BEGIN IMMEDIATE"})
            async with conn.begin():
                yield conn

    async def _one(self, query: sa.Select[Any]) -> RolloutState | None:
        async with self._db.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _state(row)

    async def _many(self, query: sa.Select[Any]) -> builtins.list[RolloutState]:
        async with self._db.engine.connect() as conn:
            return [_state(row) for row in await conn.execute(query)]


def _row(state: RolloutState) -> dict[str, Any]:
    return {
        "route": state.route,
        "live": state.live,
        "candidate": state.candidate,
        "phase": state.phase,
        "step_index": state.step_index,
        "weight": state.weight,
        "step_started_at": state.step_started_at,
        "failed_checks": state.failed_checks,
        "version": state.version,
        "created_at": state.started_at,
        "updated_at": state.history[-1].ts,
        "history": [{"ts": e.ts, "kind": e.kind, "detail": e.detail} for e in state.history],
        "active_route": None if state.terminal else state.route,
    }


def _events(stored: Any) -> tuple[RolloutEvent, ...]:
    return tuple(RolloutEvent(float(e["ts"]), e["kind"], e["detail"]) for e in stored)


def _state(row: Row[Any]) -> RolloutState:
    m = row._mapping
    return RolloutState(
        rollout_id=m["rollout_id"],
        route=m["route"],
        live=m["live"],
        candidate=m["candidate"],
        phase=cast(Phase, m["phase"]),
        step_index=m["step_index"],
        weight=m["weight"],
        step_started_at=m["step_started_at"],
        failed_checks=m["failed_checks"],
        history=_events(m["history"]),
    )
