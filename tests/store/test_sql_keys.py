"""SqlKeyStore on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from keel.store.protocols import KeyRecord, KeyStore
from keel.store.sql import Database
from keel.store.sql_keys import DuplicateKeyError, SqlKeyStore


def make_key(n: int, **overrides: Any) -> KeyRecord:
    key = KeyRecord(
        key_id=f"key_{n:08x}",
        key_hash=f"{n:064x}",
        hint=f"sk-keel-{n:04x}",
        name=f"key {n}",
        allowed=("smart", "cheap"),
        team="search",
        feature="autocomplete",
        owner="ana@example.com",
        created_at=1_700_000_000.0 + n,
    )
    return dataclasses.replace(key, **overrides)


async def test_add_then_list_and_look_up(db: Database) -> None:
    store: KeyStore = SqlKeyStore(db)
    first, second = make_key(1), make_key(2, allowed=("*",), team=None, feature=None, owner=None)
    await store.add(second)
    await store.add(first)
    assert await store.list() == [first, second]  # oldest first

    keys = SqlKeyStore(db)
    assert await keys.get_by_hash(first.key_hash) == first
    assert await keys.get(second.key_id) == second
    assert await keys.get_by_hash("0" * 63 + "f") is None
    assert await keys.get("key_missing") is None


async def test_revoke_hides_the_key_from_the_active_list(db: Database) -> None:
    store = SqlKeyStore(db)
    await store.add(make_key(1))
    await store.add(make_key(2))
    assert await store.revoke("key_00000001", at=1_800_000_000.0) is True
    assert [k.key_id for k in await store.list()] == ["key_00000002"]
    listed = await store.list(include_revoked=True)
    assert [(k.key_id, k.revoked_at) for k in listed] == [("key_00000001", 1_800_000_000.0), ("key_00000002", None)]
    # Revoked keys are still found by hash, so authentication can say "revoked" rather than "unknown".
    found = await store.get_by_hash(make_key(1).key_hash)
    assert found is not None and found.revoked_at == 1_800_000_000.0


async def test_revoke_is_true_only_for_an_active_key(db: Database) -> None:
    store = SqlKeyStore(db)
    await store.add(make_key(1))
    assert await store.revoke("key_00000001", at=1.0) is True
    assert await store.revoke("key_00000001", at=2.0) is False
    assert await store.revoke("key_unknown", at=2.0) is False
    found = await store.get("key_00000001")
    assert found is not None and found.revoked_at == 1.0  # the first revocation time is kept


async def test_duplicate_ids_and_hashes_are_refused(db: Database) -> None:
    store = SqlKeyStore(db)
    await store.add(make_key(1))
    with pytest.raises(DuplicateKeyError):
        await store.add(make_key(1, key_hash="f" * 64))
    with pytest.raises(DuplicateKeyError):
        await store.add(make_key(2, key_hash=make_key(1).key_hash))
    assert len(await store.list()) == 1
