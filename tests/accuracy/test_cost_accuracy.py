"""The cost accuracy test: one recorded workload, through one replica and through three sharing Redis.

For each run, the request log, the spend aggregates and the budget counters must agree exactly (to the
nano-dollar, which is stricter than the micro-dollar promised), and the two runs must agree with each
other. Replicas are real ``keel serve`` processes sharing one PostgreSQL schema and one Redis prefix.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from keel.core.clock import SystemClock
from keel.hot.budgets import BudgetLedger
from keel.hot.config import Budget
from keel.hot.redis_store import RedisHotStore
from keel.store.sql import open_database
from keel.store.sql_spend import SqlSpendStore
from tests.conftest import ADMIN_KEY, free_port, keel_process
from tests.hot.conftest import REDIS_URL, SKIP_REDIS
from tests.store.conftest import PG_URL, SKIP_PG

BUDGETS = [
    Budget(name="everything", scope="global", period="month", limit_usd=1000.0),
    Budget(name="support", scope="team", target="support", period="month", limit_usd=500.0, hard_stop=False),
]

CONFIG = """\
storage:
  database_url: "PG_URL"
  database_schema: SCHEMA
  log_flush_interval_s: 0.05
hot_store: {backend: redis, redis_url: "REDIS_URL", key_prefix: PREFIX}
budgets:
  - {name: everything, scope: global, period: month, limit_usd: 1000}
  - {name: support, scope: team, target: support, period: month, limit_usd: 500, hard_stop: false}
routes:
  bot: {deployments: [mini]}
  writer: {deployments: [big]}
deployments:
  mini:
    provider: simulator
    model: "sim:tokens=7"
    price: {input_per_mtok: 0.15, output_per_mtok: 0.6}
  big:
    provider: simulator
    model: "sim:tokens=23"
    price: {input_per_mtok: 2.5, output_per_mtok: 10.0}
"""


def workload() -> list[dict[str, object]]:
    """120 requests: two routes at different prices, prompts of many lengths, streams with and without usage."""
    requests: list[dict[str, object]] = []
    for i in range(120):
        words = " ".join(f"word{j}" for j in range(1 + (i * 7) % 53))
        body: dict[str, object] = {
            "model": "writer" if i % 3 == 0 else "bot",
            "messages": [{"role": "user", "content": f"question {i}: {words}"}],
        }
        if i % 4 == 1:
            body["stream"] = True
        if i % 8 == 1:
            body["stream_options"] = {"include_usage": True}
        requests.append(body)
    return requests


def send(url: str, key: str, body: dict[str, object]) -> None:
    with httpx.Client(timeout=30) as client:
        response = client.post(f"{url}/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"})
        assert response.status_code == 200, response.text
        response.read()


def create_key(url: str) -> str:
    with httpx.Client(timeout=10) as client:
        response = client.post(
            f"{url}/admin/keys",
            json={"name": "accuracy", "allowed": ["bot", "writer"], "team": "support"},
            headers={"authorization": f"Bearer {ADMIN_KEY}"},
        )
        response.raise_for_status()
        return str(response.json()["key"])


def wait_for_key(url: str, key: str) -> None:
    """Other replicas learn a new key at their next key refresh."""
    deadline = time.monotonic() + 15
    with httpx.Client(timeout=5) as client:
        while client.get(f"{url}/v1/models", headers={"authorization": f"Bearer {key}"}).status_code != 200:
            assert time.monotonic() < deadline, f"{url} never accepted the new key"
            time.sleep(0.1)


@contextlib.contextmanager
def replicas(count: int, config: Path) -> Iterator[list[str]]:
    with contextlib.ExitStack() as stack:
        urls = []
        for n in range(count):
            port = free_port()
            workdir = config.parent / f"replica-{count}-{n}"  # each replica has its own data dir and spool
            workdir.mkdir()
            url = f"http://127.0.0.1:{port}"
            stack.enter_context(
                keel_process(
                    ["serve", "--config", str(config), "--port", str(port)],
                    cwd=workdir,
                    env={"KEEL_ADMIN_KEY": ADMIN_KEY, "KEEL_SECRET": "accuracy-secret"},
                    ready_url=f"{url}/readyz",
                )
            )
            urls.append(url)
        yield urls
    # Leaving the stack stopped every replica; each flushed its request log on the way out.


async def totals(schema: str, prefix: str) -> dict[str, Decimal]:
    db = await open_database(PG_URL, schema=schema)
    try:
        async with db.engine.connect() as connection:
            logged = (await connection.exec_driver_sql("SELECT sum(cost_usd), count(*) FROM request_log")).one()
        spend = await SqlSpendStore(db).spend("route", None, None)
        team = await SqlSpendStore(db).spend("team", None, None)
    finally:
        await db.aclose()
    store = RedisHotStore(REDIS_URL, key_prefix=prefix)
    try:
        counters = [await BudgetLedger(store, SystemClock()).spent(b) for b in BUDGETS]
    finally:
        await store.aclose()
    return {
        "requests": Decimal(logged[1]),
        "request_log": Decimal(logged[0]),
        "spend_by_route": sum((row.cost_usd for row in spend), start=Decimal(0)),
        "spend_team_support": sum((row.cost_usd for row in team if row.group == "support"), start=Decimal(0)),
        "budget_global": Decimal(counters[0]).scaleb(-9),
        "budget_team": Decimal(counters[1]).scaleb(-9),
    }


async def drop_schema(schema: str) -> None:
    connection = await asyncpg.connect(PG_URL, timeout=5)
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await connection.close()


async def drop_prefix(prefix: str) -> None:
    client = Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{{{prefix}:*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def run(count: int, tmp_path: Path) -> dict[str, Decimal]:
    tag = secrets.token_hex(4)
    schema, prefix = f"keel_accuracy_{tag}", f"acc{tag}"
    config = tmp_path / f"keel-{count}.yaml"
    text = CONFIG.replace("PG_URL", PG_URL).replace("SCHEMA", schema).replace("REDIS_URL", REDIS_URL)
    config.write_text(text.replace("PREFIX", prefix))
    try:
        with replicas(count, config) as urls:
            key = create_key(urls[0])
            for url in urls:
                wait_for_key(url, key)
            with ThreadPoolExecutor(max_workers=6) as pool:
                list(pool.map(lambda item: send(urls[item[0] % count], key, item[1]), enumerate(workload())))
        return asyncio.run(totals(schema, prefix))
    finally:
        asyncio.run(drop_schema(schema))
        asyncio.run(drop_prefix(prefix))


@pytest.mark.skipif(SKIP_PG or SKIP_REDIS, reason="needs PostgreSQL and Redis")
def test_one_and_three_replicas_agree_to_the_nano_dollar(tmp_path: Path) -> None:
    one = run(1, tmp_path)
    three = run(3, tmp_path)
    for figures in (one, three):
        assert figures["requests"] == 120
        assert figures["request_log"] > 0
        money = {name: value for name, value in figures.items() if name != "requests"}
        assert len(set(money.values())) == 1, f"request log, spend and budget counters disagree: {money}"
    assert one == three
