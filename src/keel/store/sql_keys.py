"""Virtual API keys in SQL (SQLite or PostgreSQL)."""

from __future__ import annotations

import builtins
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row

from keel.store.protocols import KeyRecord
from keel.store.sql import Database
from keel.store.tables import api_keys


class DuplicateKeyError(ValueError):
    """A key with the same id or the same hash is already stored."""


def _key_from_row(row: Row[Any]) -> KeyRecord:
    data = row._mapping
    return KeyRecord(
        key_id=data["key_id"],
        key_hash=data["key_hash"],
        hint=data["hint"],
        name=data["name"],
        allowed=tuple(data["allowed"]),
        team=data["team"],
        feature=data["feature"],
        owner=data["owner"],
        created_at=data["created_at"],
        revoked_at=data["revoked_at"],
    )


class SqlKeyStore:
    """``KeyStore`` over a ``Database``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, key: KeyRecord) -> None:
        values = {
            "key_id": key.key_id,
            "key_hash": key.key_hash,
            "hint": key.hint,
            "name": key.name,
            "allowed": list(key.allowed),
            "team": key.team,
            "feature": key.feature,
            "owner": key.owner,
            "created_at": key.created_at,
            "revoked_at": key.revoked_at,
        }
        try:
            async with self._db.engine.begin() as connection:
                await connection.execute(api_keys.insert().values(**values))
        except sa.exc.IntegrityError as error:
            raise DuplicateKeyError(f"a key with id {key.key_id!r} or the same hash already exists") from error

    async def get(self, key_id: str) -> KeyRecord | None:
        return await self._one(api_keys.c.key_id == key_id)

    async def get_by_hash(self, key_hash: str) -> KeyRecord | None:
        """The key with this hash, revoked or not: the caller decides what a revoked key means."""
        return await self._one(api_keys.c.key_hash == key_hash)

    async def revoke(self, key_id: str, at: float) -> bool:
        statement = (
            api_keys.update().where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None)).values(revoked_at=at)
        )
        async with self._db.engine.begin() as connection:
            result = await connection.execute(statement)
        return result.rowcount == 1

    async def _one(self, condition: sa.ColumnElement[bool]) -> KeyRecord | None:
        async with self._db.engine.connect() as connection:
            row = (await connection.execute(sa.select(api_keys).where(condition))).first()
        return None if row is None else _key_from_row(row)

    # Defined last: inside the class body the name ``list`` refers to this method from here on.
    async def list(self, include_revoked: bool = False) -> builtins.list[KeyRecord]:
        statement = sa.select(api_keys).order_by(api_keys.c.created_at, api_keys.c.key_id)
        if not include_revoked:
            statement = statement.where(api_keys.c.revoked_at.is_(None))
        async with self._db.engine.connect() as connection:
            rows = (await connection.execute(statement)).all()
        return [_key_from_row(row) for row in rows]
