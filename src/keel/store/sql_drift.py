"""Drift state shared by replicas: one frozen baseline per route, and each replica's latest window.

The baseline is written once (the first replica to freeze wins; the others adopt it), so every
replica's current window is binned on the same edges and the windows merge exactly for the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from keel.store.sql import Database
from keel.store.tables import drift_baselines, drift_windows


@dataclass(frozen=True, slots=True)
class DriftWindowRow:
    replica: str
    phase: str  # "baseline" (still collecting) or "current"
    requests: int
    state: dict[str, Any]
    updated_at: float


class SqlDriftStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def _insert(self, table: sa.Table) -> Any:
        return (pg_insert if self._db.dialect == "postgresql" else sqlite_insert)(table)

    async def baseline(self, route: str) -> dict[str, Any] | None:
        query = sa.select(drift_baselines.c.state).where(drift_baselines.c.route == route)
        async with self._db.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return dict(row[0]) if row is not None else None

    async def frozen_at(self, route: str) -> float | None:
        """When the route's baseline was frozen (which baseline it is); None when it has none."""
        query = sa.select(drift_baselines.c.frozen_at).where(drift_baselines.c.route == route)
        async with self._db.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return float(row[0]) if row is not None else None

    async def offer_baseline(self, route: str, state: dict[str, Any], at: float) -> dict[str, Any]:
        """Store ``state`` as the route's baseline unless one exists; the baseline that is stored."""
        statement = self._insert(drift_baselines).values(route=route, state=state, frozen_at=at)
        async with self._db.engine.begin() as conn:
            await conn.execute(statement.on_conflict_do_nothing(index_elements=["route"]))
        stored = await self.baseline(route)
        assert stored is not None
        return stored

    async def save_window(
        self, route: str, replica: str, phase: str, requests: int, state: dict[str, Any], at: float
    ) -> None:
        values = {"phase": phase, "requests": requests, "state": state, "updated_at": at}
        statement = self._insert(drift_windows).values(route=route, replica=replica, **values)
        async with self._db.engine.begin() as conn:
            await conn.execute(statement.on_conflict_do_update(index_elements=["route", "replica"], set_=values))

    async def windows(self, route: str) -> list[DriftWindowRow]:
        query = sa.select(drift_windows).where(drift_windows.c.route == route).order_by(drift_windows.c.replica)
        async with self._db.engine.connect() as conn:
            return [
                DriftWindowRow(r.replica, r.phase, r.requests, dict(r.state), r.updated_at)
                for r in await conn.execute(query)
            ]

    async def reset(self, route: str) -> None:
        async with self._db.engine.begin() as conn:
            await conn.execute(sa.delete(drift_windows).where(drift_windows.c.route == route))
            await conn.execute(sa.delete(drift_baselines).where(drift_baselines.c.route == route))
