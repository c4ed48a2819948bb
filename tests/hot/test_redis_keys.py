"""The Redis layout: hash-tagged key names, TTLs on every key, scripts loaded on demand."""

from __future__ import annotations

import asyncio
import secrets
import time

from redis.asyncio import Redis
from redis.crc import key_slot

from keel.hot.redis_batch import CommandBatcher, Script
from keel.hot.redis_store import escape_key_part
from tests.hot.conftest import RedisStoreFactory


async def test_keys_carry_the_prefix_inside_one_hash_tag(redis_stores: RedisStoreFactory, key_prefix: str) -> None:
    store = redis_stores()
    assert store.redis_key("window", "rate:team:support:requests") == f"{{{key_prefix}:w:rate:team:support:requests}}"
    assert store.redis_key("counter", "budget:b:month:2026-11") == f"{{{key_prefix}:c:budget:b:month:2026-11}}"
    assert store.redis_key("flag", "x") == f"{{{key_prefix}:f:x}}"


async def test_braces_in_names_cannot_move_the_hash_tag(redis_stores: RedisStoreFactory, key_prefix: str) -> None:
    store = redis_stores()
    name = store.redis_key("window", "team:a}b{c")
    assert name.count("{") == 1 and name.count("}") == 1
    assert name.startswith("{") and name.endswith("}")
    # The slot is the one of the whole name, not of a fragment.
    assert key_slot(name.encode()) == key_slot(name[1:-1].encode())
    assert escape_key_part("a%7Bb") != escape_key_part("a{b")


async def test_every_key_of_a_counter_maps_to_one_slot(redis_stores: RedisStoreFactory, redis_client: Redis) -> None:
    store = redis_stores()
    await store.window_take("rate:key:k1:tokens", 5, 100, 60.0, time.time())
    await store.counter_reserve("budget:b:day:2026-11-25", 5, 100, 60.0)
    await store.flag_set("budget:b:day:2026-11-25:alert:0.5", 60.0)
    names = [key async for key in redis_client.scan_iter(match=f"{{{store.key_prefix}:*")]
    assert len(names) == 3
    for name in names:
        tag = name[1 : name.index("}")]
        assert name.endswith("}") and tag == name[1:-1]
        assert key_slot(name.encode()) == key_slot(tag.encode())


async def test_every_key_has_a_ttl(redis_stores: RedisStoreFactory, redis_client: Redis) -> None:
    store = redis_stores()
    now = time.time()
    await store.window_take("w", 5, 100, 60.0, now)
    await store.window_adjust("w", 3, 60.0, now)
    await store.counter_reserve("c", 5, 100, 3600.0)
    await store.counter_settle("c", 5, 4, 7200.0)
    await store.flag_set("f", 90.0)
    window_ttl = await redis_client.pttl(store.redis_key("window", "w"))
    counter_ttl = await redis_client.pttl(store.redis_key("counter", "c"))
    flag_ttl = await redis_client.pttl(store.redis_key("flag", "f"))
    assert 60_000 < window_ttl <= 61_000  # the window plus its bucket in progress
    assert 7_100_000 < counter_ttl <= 7_200_000  # the latest write's TTL
    assert 89_000 < flag_ttl <= 90_000


async def test_refused_takes_and_empty_adjusts_create_nothing(
    redis_stores: RedisStoreFactory, redis_client: Redis
) -> None:
    store = redis_stores()
    await store.window_take("w", 5, 1, 60.0, time.time())
    await store.window_adjust("v", -5, 60.0, time.time())
    await store.counter_reserve("c", 5, 1, 60.0)
    assert [key async for key in redis_client.scan_iter(match=f"{{{store.key_prefix}:*")] == []


async def test_expired_buckets_are_deleted_from_the_hash(redis_stores: RedisStoreFactory, redis_client: Redis) -> None:
    store = redis_stores()
    await store.window_take("w", 1, 100, 60.0, 1000.0)
    await store.window_take("w", 1, 100, 60.0, 1030.0)
    await store.window_take("w", 1, 100, 60.0, 1070.0)
    assert sorted(await redis_client.hkeys(store.redis_key("window", "w"))) == ["1030", "1070"]


async def test_a_script_unknown_to_the_server_is_loaded_and_run(redis_client: Redis) -> None:
    # As after a failover to a fresh Redis or a SCRIPT FLUSH (not run here: the server is shared): a
    # script no server has seen, next to a plain command in the same pipeline.
    unseen = Script(f"-- {secrets.token_hex(8)}\nreturn ARGV[1] .. KEYS[1]")
    batcher = CommandBatcher(redis_client, lambda error: error)
    assert not (await redis_client.script_exists(unseen.sha))[0]
    replies = await asyncio.gather(batcher.script(unseen, ["k"], ["v"]), batcher.command("ECHO", "plain"))
    assert replies == ["vk", "plain"]
    assert (await redis_client.script_exists(unseen.sha))[0]
