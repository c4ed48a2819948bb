"""``IncidentStore`` over a ``Database``: incident events, newest first."""

from __future__ import annotations

import sqlalchemy as sa

from keel.incidents.events import IncidentEvent
from keel.store.sql import Database
from keel.store.tables import incident_events


class SqlIncidentStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, event: IncidentEvent) -> None:
        async with self._db.engine.begin() as conn:
            await conn.execute(
                sa.insert(incident_events).values(
                    event_id=event.event_id,
                    ts=event.ts,
                    severity=event.severity,
                    kind=event.kind,
                    summary=event.summary,
                    route=event.route,
                    request_id=event.request_id,
                    details=event.details,
                )
            )

    async def recent(self, limit: int = 100) -> list[IncidentEvent]:
        query = sa.select(incident_events).order_by(incident_events.c.ts.desc()).limit(limit)
        async with self._db.engine.connect() as conn:
            return [
                IncidentEvent(
                    severity=row.severity,
                    kind=row.kind,
                    summary=row.summary,
                    route=row.route,
                    request_id=row.request_id,
                    details=dict(row.details or {}),
                    event_id=row.event_id,
                    ts=row.ts,
                )
                for row in await conn.execute(query)
            ]
