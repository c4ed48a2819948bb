"""One protocol per durable concern. Implementations: ``sql_request_log.py``, ``sql_keys.py`` (SQLite, PostgreSQL)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from keel.store.records import RequestRecord


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A virtual API key as stored: never the key itself, only its keyed hash."""

    key_id: str  # public identifier, e.g. "key_3f9a1c2b"
    key_hash: str  # hex HMAC-SHA256 of the secret key under the server's hashing secret
    hint: str  # the first characters of the key, e.g. "sk-keel-3f9a", for humans to recognise it
    name: str
    allowed: tuple[str, ...]  # route or deployment names; "*" is every one
    team: str | None
    feature: str | None
    owner: str | None
    created_at: float
    revoked_at: float | None = None


class RequestLogStore(Protocol):
    async def write_batch(self, records: list[RequestRecord]) -> None:
        """Write all records atomically (one transaction). Idempotent on ``request_id``."""
        ...

    async def recent(self, limit: int = 100) -> list[RequestRecord]: ...

    async def count(self) -> int: ...


class KeyStore(Protocol):
    async def add(self, key: KeyRecord) -> None: ...

    async def list(self, include_revoked: bool = False) -> list[KeyRecord]: ...

    async def revoke(self, key_id: str, at: float) -> bool:
        """True if an active key with this id was revoked."""
        ...
