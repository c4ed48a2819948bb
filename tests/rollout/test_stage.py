"""The request-path stage: which side a request goes to, and that the side's deployment serves it.

Requests go through real stages (record, validate, the rollout stage, route choice, the upstream call)
to simulated deployments; the board reads rollouts saved in a real database. ``Rig`` is shared with
the service and drive tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict

from keel.config.errors import ConfigError
from keel.config.loader import read_runtime_config
from keel.config.runtime import RuntimeConfig
from keel.control.kill_switches import KillBoard
from keel.core.clock import Clock, SystemClock
from keel.core.context import RequestContext
from keel.core.errors import KeelError
from keel.core.identity import Identity
from keel.core.ids import RequestIds
from keel.monitor.alerts import WebhookNotifier
from keel.monitor.metrics import Metrics
from keel.pipeline.attempt import CallUpstream
from keel.pipeline.chain import build_chain
from keel.pipeline.record import RecordRequest
from keel.pipeline.rollout import AssignRollout
from keel.pipeline.route import ChooseRoute
from keel.pipeline.validate import ValidateRequest
from keel.providers.factory import build_providers
from keel.providers.transport import HttpClient
from keel.rollout import machine
from keel.rollout.assign import bucket
from keel.rollout.board import RolloutBoard
from keel.rollout.observe import SqlObserver
from keel.rollout.service import SETTLE_S, RolloutService
from keel.rollout.store import SqlRolloutStore
from keel.routing.health import Health
from keel.store.records import RequestRecord
from keel.store.sql import Database, open_database
from keel.store.sql_kill_switches import SqlKillSwitchStore
from keel.store.sql_request_log import SqlRequestLogStore
from tests.clocks import ManualClock
from tests.rollout.factories import T0, verdict

ROUTE = "support-bot"
ANYONE = Identity(key_id=None, allowed=frozenset({"*"}))
ROLLOUT: dict[str, Any] = {
    "candidate": "cand",
    "steps": [10, 50, 100],
    "step_interval_s": 60,
    "analysis_interval_s": 60,
    "max_failed_checks": 2,
    "checks": [
        {"metric": "error_rate", "max": 0.05, "min_samples": 10},
        # Absolute and generous: latencies are measured in the test process, where one full garbage
        # collection stalls every request in flight at once (32 here), so a p99 relative to a 40 ms
        # live side fails on a pause alone. The relative comparison is covered in test_analysis.
        {"metric": "p99_latency_ms", "max": 2000.0, "min_samples": 10},
    ],
}


def raw_config(
    tmp_path: Path,
    *,
    live: str = "sim:ttft=4",
    candidate: str = "sim:ttft=1",
    rollout: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``support-bot`` on ``live`` with a rollout to ``cand`` (``ROLLOUT`` unless given; ``{}`` for none),
    and a plain route, as keel.yaml would say it."""
    support: dict[str, Any] = {"deployments": ["live"], "retries": {"max_attempts": 1}}
    if rollout != {}:
        support["rollout"] = dict(rollout or ROLLOUT)
    return {
        "version": 1,
        "storage": {"database_url": f"sqlite:///{tmp_path}/keel.db", "data_dir": str(tmp_path / "data")},
        "routes": {ROUTE: support, "plain": {"deployments": ["live"]}},
        "deployments": {
            "live": {"provider": "simulator", "model": live},
            "cand": {"provider": "simulator", "model": candidate},
            "emb": {"provider": "simulator", "model": "sim:dim=8", "public": True},
        },
    }


def make_config(tmp_path: Path, **options: Any) -> RuntimeConfig:
    """``raw_config`` through the loader keel.yaml goes through (JSON is YAML)."""
    text = orjson.dumps(raw_config(tmp_path, **options)).decode()
    return read_runtime_config(text, file=str(tmp_path / "keel.yaml"), base_dir=tmp_path)


class Rig:
    """A rollout stage in front of real route choice and upstream calls, over one database."""

    def __init__(
        self,
        config: RuntimeConfig,
        db: Database,
        upstream: HttpClient,
        clock: Clock,
        notifier: WebhookNotifier | None = None,
        settle_s: float = SETTLE_S,
    ) -> None:
        self.config = config
        self.clock = clock
        self.store = SqlRolloutStore(db)
        self.board = RolloutBoard(self.store, lambda: self.config)
        self.service = RolloutService(
            self.store,
            SqlObserver(db),
            lambda: self.config,
            notifier=notifier,
            board=self.board,
            clock=clock,
            settle_s=settle_s,
        )
        self.log = SqlRequestLogStore(db)
        self.records: list[RequestRecord] = []
        self._ids = RequestIds()
        health = Health(lambda: self.config.deployments, SystemClock())
        rng = random.Random(7)
        stages = [
            RecordRequest(self.records.append, Metrics()),
            ValidateRequest(),
            AssignRollout(self.board),
            ChooseRoute(health, KillBoard(SqlKillSwitchStore(db)), rng),
        ]
        self.pipeline = build_chain(stages, CallUpstream(build_providers(config, upstream), health, rng))

    async def ask(
        self, user: str | None = None, headers: Mapping[str, str] | None = None, model: str = ROUTE
    ) -> RequestContext:
        """One chat request at the clock's time; an error reply is kept on the context, not raised."""
        body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": "Where is my order?"}]}
        if user is not None:
            body["user"] = user
        ctx = RequestContext(
            request_id=self._ids.new(),
            endpoint="chat.completions",
            config=self.config,
            ts=self.clock.now(),
            started=time.perf_counter(),
            raw_body=orjson.dumps(body),
            headers=headers or {},
            identity=ANYONE,
        )
        with contextlib.suppress(KeelError):
            await self.pipeline(ctx)
        return ctx

    async def traffic(self, users: Sequence[str | None]) -> list[RequestContext]:
        """One request per user, a few at a time, then written to the request log."""
        gate = asyncio.Semaphore(32)

        async def one(user: str | None) -> RequestContext:
            async with gate:
                return await self.ask(user)

        contexts = await asyncio.gather(*(one(u) for u in users))
        await self.log.write_batch(self.records)
        self.records.clear()
        return list(contexts)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


@pytest.fixture
async def upstream() -> AsyncIterator[HttpClient]:
    client = HttpClient()
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_database(f"sqlite:///{tmp_path}/keel.db")
    try:
        yield database
    finally:
        await database.aclose()


class Webhook:
    """A local alert webhook: a real HTTP server keeping every JSON body posted to it."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.app = web.Application()
        self.app.router.add_post("/hook", self._hook)

    async def _hook(self, request: web.Request) -> web.Response:
        self.received.append(await request.json())
        return web.Response(status=204)


@pytest.fixture
async def webhook() -> AsyncIterator[tuple[Webhook, str]]:
    hook = Webhook()
    async with TestServer(hook.app) as server:
        yield hook, str(server.make_url("/hook"))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(wall=T0)


@pytest.fixture
def rig(tmp_path: Path, db: Database, upstream: HttpClient, clock: ManualClock) -> Rig:
    return Rig(make_config(tmp_path), db, upstream, clock)


async def _at_weight(rig: Rig, weight: float) -> machine.RolloutState:
    """A rollout of the route saved at ``weight`` (through the first steps; a pass moves one step)."""
    config = rig.config.routes[ROUTE].config.rollout
    assert config is not None
    state = machine.start(config, ROUTE, "live", "cand", T0, rollout_id="ro_stage")
    now = T0
    while state.weight < weight:
        now += 60
        state = machine.on_analysis(state, config, verdict("pass"), now)
    await rig.store.save(state)
    await rig.board.refresh()
    return state


async def test_a_route_without_a_rollout_is_left_alone(rig: Rig) -> None:
    await _at_weight(rig, 50)
    ctx = await rig.ask("someone", model="plain")
    assert (ctx.rollout_id, ctx.rollout_side, ctx.pool) == (None, None, None)
    assert ctx.deployment is not None and ctx.deployment.name == "live"


async def test_a_pending_rollout_moves_no_traffic(rig: Rig) -> None:
    await rig.service.start_rollout(ROUTE)
    for ctx in await rig.traffic([f"user-{i}" for i in range(50)]):
        assert ctx.rollout_id is None and ctx.deployment is not None and ctx.deployment.name == "live"


async def test_the_candidate_gets_its_share_and_serves_what_it_gets(rig: Rig) -> None:
    state = await _at_weight(rig, 10)
    contexts = await rig.traffic([f"user-{i}" for i in range(400)])
    sides = [ctx.rollout_side for ctx in contexts]
    assert {ctx.rollout_id for ctx in contexts} == {state.rollout_id}
    # The side is the bucket's: exactly the users whose bucket is below 10% of the buckets.
    expected = ["candidate" if bucket(state.rollout_id, f"user-{i}") < 1000 else "live" for i in range(400)]
    assert sides == expected
    assert 20 <= sides.count("candidate") <= 60
    for ctx in contexts:
        assert ctx.deployment is not None and ctx.status == 200
        assert ctx.deployment.name == ("cand" if ctx.rollout_side == "candidate" else "live")
        assert ctx.pool == (("cand",) if ctx.rollout_side == "candidate" else None)


async def test_a_caller_keeps_its_side_and_the_request_log_keeps_both(rig: Rig) -> None:
    await _at_weight(rig, 50)
    first = await rig.traffic([f"user-{i}" for i in range(40)])
    again = await rig.traffic([f"user-{i}" for i in range(40)])
    assert [c.rollout_side for c in first] == [c.rollout_side for c in again]
    assert {c.rollout_side for c in first} == {"live", "candidate"}
    logged = {r.request_id: (r.rollout_id, r.rollout_side) for r in await rig.log.recent(200)}
    assert all(logged[c.request_id] == (c.rollout_id, c.rollout_side) for c in first + again)


async def test_without_a_user_each_request_is_drawn_on_its_own(rig: Rig) -> None:
    await _at_weight(rig, 50)
    sides = {ctx.rollout_side for ctx in await rig.traffic([None] * 60)}
    assert sides == {"live", "candidate"}


async def test_a_header_can_be_the_sticky_key(tmp_path: Path, db: Database, upstream: HttpClient) -> None:
    rig = Rig(make_config(tmp_path, rollout={**ROLLOUT, "sticky": "header:X-Tenant"}), db, upstream, ManualClock(T0))
    state = await _at_weight(rig, 50)
    for tenant in (f"tenant-{i}" for i in range(30)):
        side = "candidate" if bucket(state.rollout_id, tenant) < 5000 else "live"
        # Header names are matched case-insensitively, as the server's request headers are.
        ctx = await rig.ask(f"a user the config does not use {tenant}", headers=CIMultiDict({"X-TENANT": tenant}))
        assert ctx.rollout_side == side


async def test_a_promoted_rollout_keeps_every_request_on_the_candidate(rig: Rig) -> None:
    state = await _at_weight(rig, 100)
    config = rig.config.routes[ROUTE].config.rollout
    assert config is not None
    promoted = machine.on_analysis(state, config, verdict("pass"), T0 + 600)
    assert promoted.phase == "promoted"
    await rig.store.save(promoted)
    await rig.board.refresh()
    contexts = await rig.traffic([f"user-{i}" for i in range(30)])
    assert {(c.rollout_side, c.deployment.name if c.deployment else None) for c in contexts} == {("candidate", "cand")}


@pytest.mark.parametrize("end", ["abort", "roll back"])
async def test_a_rollout_that_ended_badly_sends_everything_back_to_live(rig: Rig, end: str) -> None:
    state = await _at_weight(rig, 50)
    config = rig.config.routes[ROUTE].config.rollout
    assert config is not None
    if end == "abort":
        state = machine.abort(state, T0 + 600, "enough")
    else:
        for minute in (11, 12):
            state = machine.on_analysis(state, config, verdict("fail"), T0 + 60 * minute)
    assert state.weight == 0 and state.terminal
    await rig.store.save(state)
    await rig.board.refresh()
    for ctx in await rig.traffic([f"user-{i}" for i in range(30)]):
        assert ctx.rollout_id is None and ctx.deployment is not None and ctx.deployment.name == "live"


async def test_a_rollout_of_another_candidate_than_the_config_names_is_ignored(
    tmp_path: Path, db: Database, upstream: HttpClient
) -> None:
    await _at_weight(Rig(make_config(tmp_path), db, upstream, ManualClock(T0)), 100)
    edited = make_config(tmp_path, rollout={**ROLLOUT, "candidate": "emb"})
    rig = Rig(edited, db, upstream, ManualClock(T0))
    await rig.board.refresh()
    assert rig.board.for_route(ROUTE) is not None
    ctx = await rig.ask("someone")
    assert ctx.rollout_id is None and ctx.deployment is not None and ctx.deployment.name == "live"


async def test_embeddings_are_not_rolled_out(rig: Rig) -> None:
    await _at_weight(rig, 100)
    ctx = RequestContext(
        request_id="req-emb",
        endpoint="embeddings",
        config=rig.config,
        ts=T0,
        started=time.perf_counter(),
        raw_body=orjson.dumps({"model": ROUTE, "input": "hello"}),
        identity=ANYONE,
    )
    await rig.pipeline(ctx)
    assert ctx.rollout_id is None and ctx.deployment is not None and ctx.deployment.name == "live"


async def test_the_board_shows_the_latest_rollout_and_ignores_stale_states(rig: Rig) -> None:
    config = rig.config.routes[ROUTE].config.rollout
    assert config is not None
    first = machine.abort(machine.start(config, ROUTE, "live", "cand", T0, rollout_id="ro_first"), T0 + 1)
    second = machine.start(config, ROUTE, "live", "cand", T0 + 10, rollout_id="ro_second")
    later = machine.on_analysis(second, config, verdict("pass"), T0 + 70)
    for state in (first, later):
        await rig.store.save(state)
    await rig.board.refresh()
    assert rig.board.for_route(ROUTE) == later
    rig.board.put(second)  # older than what the board knows
    rig.board.put(first)
    assert rig.board.for_route(ROUTE) == later
    assert rig.board.for_route("plain") is None
    rig.config = make_config(rig.config.base_dir, rollout={})  # the route no longer declares a rollout
    await rig.board.refresh()
    assert rig.board.for_route(ROUTE) is None


@pytest.mark.parametrize(
    ("route", "problem"),
    [
        ({"deployments": ["live"], "rollout": {**ROLLOUT, "candidate": "gone"}}, "no deployment named 'gone'"),
        ({"deployments": ["live", "cand"], "rollout": ROLLOUT}, "'cand' already serves this route"),
        (
            {
                "tiering": {"tiers": [{"name": "a", "deployments": ["live"]}, {"name": "b", "deployments": ["emb"]}]},
                "rollout": ROLLOUT,
            },
            "a tiered route cannot have a rollout",
        ),
    ],
)
def test_a_rollout_the_stage_could_not_serve_is_refused_when_the_config_loads(
    tmp_path: Path, route: dict[str, Any], problem: str
) -> None:
    raw = raw_config(tmp_path)
    raw["routes"][ROUTE] = route
    with pytest.raises(ConfigError, match=f"routes.{ROUTE}.rollout.*{problem}"):
        read_runtime_config(orjson.dumps(raw).decode(), file="keel.yaml", base_dir=tmp_path)
