"""Drift in the gateway: replicas build one baseline together, adopt it, and their windows merge into the report."""

from __future__ import annotations

import random

import tests.store.conftest as store_fixtures
from keel.cache.semantic import HashingEmbedder
from keel.monitor.drift import DRIFT
from keel.monitor.drift_route import RouteDriftConfig
from keel.monitor.drift_service import DriftService, merged_report
from keel.store.sql import Database
from keel.store.sql_drift import SqlDriftStore
from tests.clocks import ManualClock

db_target = store_fixtures.db_target
db = store_fixtures.db

CONFIG = RouteDriftConfig(baseline_requests=400, min_samples=100)
WORDS = ["order", "delivery", "refund", "invoice", "password", "account", "shipping", "return", "exchange", "price"]


def exchange(rng: random.Random, words: int, lang_de: bool = False) -> tuple[dict[str, object], dict[str, object]]:
    text = " ".join(rng.choice(WORDS) for _ in range(words))
    if lang_de:
        text = "ich habe eine Frage und die Bestellung ist nicht da " + text
    request = {"model": "bot", "messages": [{"role": "user", "content": text}]}
    answer = {
        "choices": [{"message": {"role": "assistant", "content": "ok " * rng.randint(5, 15)}, "finish_reason": "stop"}]
    }
    return request, answer


async def feed(service: DriftService, rng: random.Random, count: int, scale: float = 1.0) -> None:
    for _ in range(count):
        service.offer("bot", *exchange(rng, max(1, int(rng.gauss(30, 6) * scale))))
    await service.drain()


async def test_two_replicas_share_one_baseline_and_report_drift_only_when_shifted(db: Database) -> None:
    store = SqlDriftStore(db)
    clock = ManualClock()
    replicas = [DriftService(store, lambda: {"bot": CONFIG}, clock, replica=f"r{i}") for i in range(2)]
    rng = random.Random(7)
    for replica in replicas:
        await feed(replica, rng, 150)
        await replica.sync()
    found, why = await merged_report(store, "bot", CONFIG)
    assert found is None and why == "collecting the baseline: 300 of 400 requests"
    for replica in replicas:
        await feed(replica, rng, 60)
        await replica.sync()
    assert await store.baseline("bot") is not None, "frozen once the replicas together reached 400"
    await replicas[0].sync()  # the first replica adopts the baseline the second one stored
    for replica in replicas:  # unshifted traffic: no drift
        await feed(replica, rng, 300)
        await replica.sync()
    same, _ = await merged_report(store, "bot", CONFIG)
    assert same is not None and same.current_requests == 600
    assert same.drifted == []
    await store.reset("bot")
    for replica in replicas:  # the windows of the old baseline are dropped at the next sync
        await replica.sync()
    for replica in replicas:
        await feed(replica, rng, 250)
        await replica.sync()
    for replica in replicas:
        await replica.sync()
    for replica in replicas:  # prompts grow by half: drift on the prompt-length features
        await feed(replica, rng, 400, scale=1.5)
        await replica.sync()
    shifted, _ = await merged_report(store, "bot", CONFIG)
    assert shifted is not None
    assert "prompt_chars" in shifted.drifted
    assert next(r for r in shifted.rows if r.feature == "prompt_chars").verdict == DRIFT


async def test_the_queue_is_bounded_and_counts_what_it_drops() -> None:
    service = DriftService(SqlDriftStore.__new__(SqlDriftStore), lambda: {}, ManualClock())
    request, answer = exchange(random.Random(1), 5)
    for _ in range(20_005):
        service.offer("bot", request, answer)
    assert service.dropped == 5
    assert await service.drain() == 0, "routes without drift monitoring are skipped"


async def test_routes_that_ask_for_embeddings_get_the_embedding_test(db: Database) -> None:
    embedder = HashingEmbedder(64)
    config = RouteDriftConfig(baseline_requests=300, min_samples=100, embeddings=True)
    service = DriftService(SqlDriftStore(db), lambda: {"bot": config}, ManualClock(), embed=embedder.embed)
    rng = random.Random(11)
    await feed(service, rng, 320)
    await service.sync()
    await feed(service, rng, 320)
    await service.sync()
    found, _ = await merged_report(SqlDriftStore(db), "bot", config)
    assert found is not None
    embedding_rows = [row for row in found.rows if row.kind == "embedding"]
    assert len(embedding_rows) == 1 and embedding_rows[0].test == "mmd"
