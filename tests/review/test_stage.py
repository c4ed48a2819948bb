"""The confidence stage in a real chain: validation, guards, tiers, route choice and upstream calls to
simulated and FAQ deployments, with the review queue in a real database.

The chain is the gateway's own order without the stages these tests do not need (auth, limits, caches).
Costs are worked out from word counts (the simulator counts one token per word).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
import pytest
import sqlalchemy as sa

from keel.config.loader import read_runtime_config
from keel.control.kill_switches import KillBoard
from keel.core.clock import SystemClock
from keel.core.context import Reply, RequestContext
from keel.core.identity import Identity
from keel.guards.base import GuardResources
from keel.guards.runner import GuardRunner
from keel.monitor.metrics import Metrics
from keel.pipeline.attempt import CallUpstream
from keel.pipeline.chain import Handler, Stage, build_chain
from keel.pipeline.guards import InputGuards, OutputGuards
from keel.pipeline.record import RecordRequest
from keel.pipeline.route import ChooseRoute
from keel.pipeline.tiers import ServeByTier
from keel.pipeline.validate import ValidateRequest
from keel.providers.factory import build_providers
from keel.providers.transport import HttpClient
from keel.review.stage import ScoreConfidence, sampled
from keel.review.store import SqlReviewStore
from keel.routing.health import Health
from keel.store.records import RequestRecord
from keel.store.sql import Database, open_database
from keel.store.sql_kill_switches import SqlKillSwitchStore

ANYONE = Identity(key_id=None, allowed=frozenset({"*"}))
REFUSAL = "I'm sorry, but I can't help with that."  # 8 words
SAFE = "Please contact support."
FAQ = """\
entries:
  - {id: refunds, question: "How long do refunds take?", answer: Refunds take 5 to 7 working days.}
  - {id: password, question: "How do I reset my password?", answer: Use the reset link on the sign-in page.}
"""
VAGUE = "My refund for order 1234 has not arrived, write to ada@example.com"  # matches refunds at 0.4122
PRICE = {"input_per_mtok": 1, "output_per_mtok": 2}


def config_data(tmp_path: Path) -> dict[str, Any]:
    safe = {"message": SAFE}
    return {
        "storage": {"database_url": f"sqlite:///{tmp_path}/keel.db", "data_dir": str(tmp_path / "data")},
        "routes": {
            "faq-bot": {"deployments": ["faq"], "confidence": {"threshold": 0.8}},
            "refusing": {"deployments": ["refuser"], "safe_mode": safe, "confidence": {"below": "fallback"}},
            "both": {"deployments": ["refuser"], "safe_mode": safe, "confidence": {"below": "fallback_and_review"}},
            "spot": {"deployments": ["echo"], "confidence": {"review_sample": 1.0}},
            "agreeing": {
                "deployments": ["priced"],
                "confidence": {"signals": ["agreement", "refusal"], "agreement_samples": 3},
            },
            "checked": {
                "deployments": ["priced"],
                "guards": {"output": [{"contains": {"text": "Paris", "on_fail": "flag"}}]},
                "confidence": {"signals": ["validators"]},
            },
            "plain": {"deployments": ["refuser"]},
        },
        "deployments": {
            "faq": {"provider": "faq", "faq": {"file": "faq.yaml"}},
            "refuser": {"provider": "simulator", "model": f"sim:reply={quote(REFUSAL, safe='')}", "price": PRICE},
            "echo": {"provider": "simulator"},
            "priced": {"provider": "simulator", "model": "sim:reply=Lyon%20it%20is", "price": PRICE},
        },
    }


@dataclass
class Sent:
    ctx: RequestContext
    reply: Reply
    text: str
    record: RequestRecord


class Rig:
    """The confidence stage where the gateway puts it, around real output guards, tiers and upstream calls."""

    def __init__(self, tmp_path: Path, db: Database, session: aiohttp.ClientSession, client: HttpClient) -> None:
        (tmp_path / "faq.yaml").write_text(FAQ)
        text = orjson.dumps(config_data(tmp_path)).decode()
        self.config = read_runtime_config(text, file=str(tmp_path / "keel.yaml"), base_dir=tmp_path)
        self.store = SqlReviewStore(db)
        self.records: list[RequestRecord] = []
        self._ids = 0
        health = Health(lambda: self.config.deployments, SystemClock())
        providers = build_providers(self.config, client)
        runner = GuardRunner(GuardResources(tmp_path, session), Metrics())
        rng = random.Random(7)
        stages: list[Stage] = [
            RecordRequest(self.records.append, Metrics()),
            ValidateRequest(),
            InputGuards(runner),
            ScoreConfidence(self.store, providers, health),
            OutputGuards(runner, lambda ctx, verdict: None),
            ServeByTier(None),
            ChooseRoute(health, KillBoard(SqlKillSwitchStore(db)), rng),
        ]
        self.pipeline: Handler = build_chain(stages, CallUpstream(providers, health, rng))

    async def ask(self, model: str, content: str = "What is the capital of France?", stream: bool = False) -> Sent:
        self._ids += 1
        body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": content}], "stream": stream}
        ctx = RequestContext(
            request_id=f"req-{self._ids}",
            endpoint="chat.completions",
            config=self.config,
            ts=time.time(),
            started=time.perf_counter(),
            raw_body=orjson.dumps(body),
            identity=ANYONE,
        )
        reply = await self.pipeline(ctx)
        if reply.stream is None:
            assert reply.body is not None
            text = reply.body["choices"][0]["message"]["content"] or ""
        else:
            text = _stream_text(b"".join([frame async for frame in reply.stream]))
        await asyncio.sleep(0)  # an answered request is booked on the loop's next turn
        [record] = [r for r in self.records if r.request_id == ctx.request_id]
        return Sent(ctx, reply, text, record)


def _stream_text(frames: bytes) -> str:
    pieces = []
    for line in frames.decode().splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            for choice in orjson.loads(line[6:]).get("choices") or ():
                pieces.append(choice["delta"].get("content") or "")
    return "".join(pieces)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_database(f"sqlite:///{tmp_path}/keel.db")
    try:
        yield database
    finally:
        await database.aclose()


@pytest.fixture
async def rig(tmp_path: Path, db: Database) -> AsyncIterator[Rig]:
    client = HttpClient()
    async with aiohttp.ClientSession() as session:
        yield Rig(tmp_path, db, session, client)
    await client.aclose()


def confidence_headers(reply: Reply) -> dict[str, str]:
    return {
        k: v for k, v in reply.headers.items() if k in ("x-keel-confidence", "x-keel-low-confidence", "x-keel-review")
    }


async def test_a_weak_faq_match_is_served_and_queued_redacted(rig: Rig) -> None:
    sent = await rig.ask("faq-bot", VAGUE)
    assert sent.text == "Refunds take 5 to 7 working days."
    assert confidence_headers(sent.reply) == {
        "x-keel-confidence": "0.4122",
        "x-keel-low-confidence": "kept",
        "x-keel-review": "queued",
    }
    assert sent.ctx.confidence == sent.record.confidence == 0.4122
    [review] = await rig.store.list()
    assert (review.request_id, review.route, review.deployment, review.reason) == (
        "req-1",
        "faq-bot",
        "faq",
        "low_confidence",
    )
    assert (review.confidence, review.parts) == (0.4122, {"faq": 0.4122, "refusal": 1.0})
    assert review.messages == [
        {"role": "user", "content": "My refund for order 1234 has not arrived, write to <EMAIL_1>"}
    ]
    assert review.answer == "Refunds take 5 to 7 working days."


async def test_a_strong_faq_match_is_served_without_review(rig: Rig) -> None:
    sent = await rig.ask("faq-bot", "How long do refunds take?")
    assert confidence_headers(sent.reply) == {"x-keel-confidence": "1.0000"}
    assert sent.record.confidence == 1.0 and await rig.store.list() == []


async def test_a_refusal_falls_back_to_the_safe_mode_and_keeps_its_cost(rig: Rig) -> None:
    sent = await rig.ask("refusing")  # 6 prompt words, 8 answer words
    assert sent.text == SAFE
    assert confidence_headers(sent.reply) == {"x-keel-confidence": "0.0000", "x-keel-low-confidence": "fallback"}
    assert sent.reply.headers["x-keel-safe-mode"] == "low_confidence"
    assert sent.record.safe_mode == "confidence 0.0000 below 0.5" and sent.record.confidence == 0.0
    assert [(a.deployment, a.kind, a.status) for a in sent.record.attempts] == [("refuser", "primary", 200)]
    assert sent.record.cost_usd == (6 * 1 + 8 * 2) / 1e6
    assert await rig.store.list() == []  # below: fallback only


async def test_fallback_and_review_queues_what_the_model_said(rig: Rig) -> None:
    sent = await rig.ask("both")
    assert sent.text == SAFE and sent.reply.headers["x-keel-review"] == "queued"
    [review] = await rig.store.list()
    assert (review.answer, review.parts) == (REFUSAL, {"refusal": 0.0})


async def test_a_share_of_confident_answers_is_queued_as_spot_checks(rig: Rig) -> None:
    sent = await rig.ask("spot")
    assert confidence_headers(sent.reply) == {"x-keel-confidence": "1.0000", "x-keel-review": "queued"}
    [review] = await rig.store.list()
    assert (review.reason, review.confidence) == ("sample", 1.0)


def test_spot_checks_are_drawn_from_the_request_id() -> None:
    drawn = [sampled(f"req-{n}", 0.25) for n in range(4000)]
    assert 900 < sum(drawn) < 1100
    assert drawn == [sampled(f"req-{n}", 0.25) for n in range(4000)]
    assert not any(sampled(f"req-{n}", 0.0) for n in range(1000))
    assert all(sampled(f"req-{n}", 1.0) for n in range(1000))


async def test_agreement_asks_the_deployment_again_and_pays_for_it(rig: Rig) -> None:
    sent = await rig.ask("agreeing")  # the simulator says the same words every time
    assert confidence_headers(sent.reply) == {"x-keel-confidence": "1.0000"}
    attempts = [(a.deployment, a.kind, a.status) for a in sent.record.attempts]
    assert attempts == [("priced", "primary", 200), ("priced", "agreement", 200), ("priced", "agreement", 200)]
    assert sent.record.cost_usd == 3 * (6 * 1 + 3 * 2) / 1e6


async def test_a_failed_output_check_is_low_confidence(rig: Rig) -> None:
    sent = await rig.ask("checked")
    assert sent.text == "Lyon it is"
    assert confidence_headers(sent.reply) == {
        "x-keel-confidence": "0.0000",
        "x-keel-low-confidence": "kept",
        "x-keel-review": "queued",
    }
    [review] = await rig.store.list()
    assert review.parts == {"validators": 0.0}


async def test_a_stream_is_scored_and_queued_once_it_has_ended_but_never_falls_back(rig: Rig) -> None:
    sent = await rig.ask("faq-bot", VAGUE, stream=True)
    assert sent.text == "Refunds take 5 to 7 working days."
    # The headers went out before the answer: only the FAQ's own match score, as on any route.
    assert confidence_headers(sent.reply) == {"x-keel-confidence": "0.4122"}
    assert sent.record.confidence == 0.4122
    [review] = await rig.store.list()
    assert review.answer == sent.text and review.reason == "low_confidence"
    refused = await rig.ask("refusing", stream=True)
    assert refused.text == REFUSAL and refused.record.confidence == 0.0 and refused.record.safe_mode is None


async def test_a_streamed_answer_checked_by_output_guards_is_scored_too(rig: Rig) -> None:
    sent = await rig.ask("checked", stream=True)  # the guards need the whole answer, then replay it
    assert sent.text == "Lyon it is" and sent.record.confidence == 0.0
    [review] = await rig.store.list()
    assert review.answer == "Lyon it is"


async def test_routes_without_confidence_are_untouched(rig: Rig) -> None:
    sent = await rig.ask("plain")
    assert sent.text == REFUSAL and confidence_headers(sent.reply) == {}
    assert sent.record.confidence is None and sent.record.safe_mode is None


async def test_an_answer_is_served_when_its_review_cannot_be_queued(rig: Rig, db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(sa.text("DROP TABLE reviews"))
    sent = await rig.ask("faq-bot", VAGUE)
    assert sent.text == "Refunds take 5 to 7 working days."
    assert confidence_headers(sent.reply) == {"x-keel-confidence": "0.4122", "x-keel-low-confidence": "kept"}
