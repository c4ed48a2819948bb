"""``KillSwitchStore`` over a ``Database``: every switch ever set, with who set and cleared it."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row

from keel.control.kill_switches import KillSwitch, Scope
from keel.store.sql import Database
from keel.store.tables import kill_switches


class SqlKillSwitchStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, switch: KillSwitch) -> None:
        async with self._db.engine.begin() as conn:
            # One active switch per scope and target: a new one replaces the old, which is kept as cleared.
            await conn.execute(
                sa.update(kill_switches)
                .where(_active(switch.scope, switch.target))
                .values(cleared_at=switch.created_at, cleared_by=switch.actor, cleared_reason="replaced")
            )
            await conn.execute(sa.insert(kill_switches).values(**_row(switch)))

    async def active(self) -> list[KillSwitch]:
        # Oldest first, so that if two are active on one target the newest wins in the board's map.
        query = (
            sa.select(kill_switches).where(kill_switches.c.cleared_at.is_(None)).order_by(kill_switches.c.created_at)
        )
        async with self._db.engine.connect() as conn:
            return [_switch(row) for row in await conn.execute(query)]

    async def clear(self, scope: Scope, target: str, actor: str, reason: str, at: float) -> int:
        async with self._db.engine.begin() as conn:
            result = await conn.execute(
                sa.update(kill_switches)
                .where(_active(scope, target))
                .values(cleared_at=at, cleared_by=actor, cleared_reason=reason)
            )
            return int(result.rowcount or 0)

    async def history(self, limit: int = 100) -> list[KillSwitch]:
        query = sa.select(kill_switches).order_by(kill_switches.c.created_at.desc()).limit(limit)
        async with self._db.engine.connect() as conn:
            return [_switch(row) for row in await conn.execute(query)]


def _active(scope: str, target: str) -> sa.ColumnElement[bool]:
    return sa.and_(
        kill_switches.c.scope == scope, kill_switches.c.target == target, kill_switches.c.cleared_at.is_(None)
    )


def _row(switch: KillSwitch) -> dict[str, Any]:
    return {
        "switch_id": switch.switch_id,
        "scope": switch.scope,
        "target": switch.target,
        "action": switch.action,
        "message": switch.message,
        "reason": switch.reason,
        "actor": switch.actor,
        "created_at": switch.created_at,
        "cleared_at": switch.cleared_at,
        "cleared_by": switch.cleared_by,
        "cleared_reason": switch.cleared_reason,
    }


def _switch(row: Row[Any]) -> KillSwitch:
    m = row._mapping
    return KillSwitch(
        switch_id=m["switch_id"],
        scope=m["scope"],
        target=m["target"],
        action=m["action"],
        reason=m["reason"],
        actor=m["actor"],
        created_at=m["created_at"],
        message=m["message"],
        cleared_at=m["cleared_at"],
        cleared_by=m["cleared_by"],
        cleared_reason=m["cleared_reason"],
    )
