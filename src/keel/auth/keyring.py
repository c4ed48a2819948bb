"""Who holds which key: an in-memory map from key hash to identity, refreshed from the key store.

The request path never touches the database: it hashes the presented key and looks the hash up in a
dict. Lookups by HMAC digest leak nothing useful through timing; the admin key, compared as a raw
value, is compared in constant time. Keys created or revoked through this process take effect at
once; changes made by other processes within ``refresh_s``.
"""

from __future__ import annotations

import hmac
import logging
import time

from keel.auth.secrets import KEY_PREFIX, hash_key, hint, mint_key
from keel.core.identity import ADMIN, Identity
from keel.core.refresher import Refresher
from keel.store.protocols import KeyRecord, KeyStore

log = logging.getLogger("keel.auth")


class KeyRing:
    def __init__(self, store: KeyStore, secret: bytes, admin_key: str | None, refresh_s: float = 2.0) -> None:
        self._store = store
        self._secret = secret
        self._admin_key = admin_key.encode("utf-8") if admin_key else None
        self._by_hash: dict[str, Identity] = {}
        self._refresher = Refresher(self.refresh, refresh_s, "keys", log)

    async def start(self) -> None:
        await self._refresher.start()

    async def aclose(self) -> None:
        await self._refresher.aclose()

    async def refresh(self) -> None:
        records = await self._store.list(include_revoked=False)
        self._by_hash = {r.key_hash: _identity(r) for r in records}

    def identify(self, token: str) -> Identity | None:
        if self._admin_key is not None and hmac.compare_digest(token.encode("utf-8"), self._admin_key):
            return ADMIN
        return self._by_hash.get(hash_key(self._secret, token))

    @staticmethod
    def looks_like_keel_key(token: str) -> bool:
        return token.startswith(KEY_PREFIX)

    async def create(
        self,
        name: str,
        allowed: tuple[str, ...],
        team: str | None = None,
        feature: str | None = None,
        owner: str | None = None,
    ) -> tuple[KeyRecord, str]:
        """Store a new key; returns its record and the key itself, which is never shown again."""
        key_id, key = mint_key()
        record = KeyRecord(
            key_id=key_id,
            key_hash=hash_key(self._secret, key),
            hint=hint(key),
            name=name,
            allowed=allowed,
            team=team,
            feature=feature,
            owner=owner,
            created_at=time.time(),
        )
        await self._store.add(record)
        self._by_hash[record.key_hash] = _identity(record)
        return record, key

    async def revoke(self, key_id: str) -> bool:
        done = await self._store.revoke(key_id, time.time())
        if done:
            self._by_hash = {h: i for h, i in self._by_hash.items() if i.key_id != key_id}
        return done

    async def list(self, include_revoked: bool = False) -> list[KeyRecord]:
        return await self._store.list(include_revoked=include_revoked)


def _identity(record: KeyRecord) -> Identity:
    return Identity(
        key_id=record.key_id,
        allowed=frozenset(record.allowed),
        team=record.team,
        feature=record.feature,
        owner=record.owner,
    )
