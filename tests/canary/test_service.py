"""The canary service in the gateway: asking through a real in-process Runtime, loading, alerting,
scheduling, and the admin API.

Gateway calls go through a Runtime started on a temporary config whose upstreams are simulated
deployments with fixed replies. The scheduler is driven tick by tick on a hand-moved clock, with plain
async functions standing in for the gateway where only the timing matters; one test runs the real loop.
The admin API is served by the gateway's own aiohttp app on a local test server.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import textwrap
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from keel.canary.config import load_suites
from keel.canary.runner import Answer, AnswerOrError, CallFailed
from keel.canary.service import (
    CANARY_IDENTITY,
    CanaryHost,
    CanaryService,
    Tick,
    UnknownSuite,
    gateway_host,
    pipeline_call,
    pipeline_chat,
    pipeline_embed,
)
from keel.canary.store import SqlCanaryStore
from keel.canary.suite import Target
from keel.config.errors import ConfigError
from keel.config.loader import load_runtime_config
from keel.config.runtime import RuntimeConfig
from keel.core.errors import KeelError
from keel.hot.memory import MemoryHotStore
from keel.server.app import build_app
from keel.services.runtime import Runtime
from keel.store.sql import Database, open_database
from tests.clocks import ManualClock

ADMIN_KEY = "sk-admin-canary-tests"
REFUND = "Unused credit is refundable within 30 days of purchase."
GRADE = '{"score": 5%2C "reason": "states the window"}'
# 2026-03-02 12:03:00 UTC, a Monday.
NOON = datetime(2026, 3, 2, 12, 3, tzinfo=UTC).timestamp()


def gateway_yaml(tmp_path: Path, canaries: str) -> str:
    return (
        textwrap.dedent(
            f"""\
        version: 1
        storage:
          data_dir: {tmp_path}/data
          database_url: sqlite:///{tmp_path}/data/keel.db
        routes:
          bot: {{deployments: [good], cache: {{enabled: true}}}}
          down: {{deployments: [broken], retries: {{max_attempts: 1}}}}
          judge: {{deployments: [grader]}}
          embed: {{deployments: [embedder]}}
        deployments:
          good: {{provider: simulator, model: "sim:reply={REFUND}"}}
          candidate: {{provider: simulator, model: "sim:reply=No refunds ever."}}
          broken: {{provider: simulator, model: "sim:fault=server_error:1"}}
          grader: {{provider: simulator, model: 'sim:reply={GRADE}'}}
          embedder: {{provider: simulator, model: "sim:dim=8"}}
        """
        )
        + canaries
    )


SUPPORT = """\
name: support
target: {route: bot}
repeat: 2
alert_below: 0.9
tests:
  - id: refund
    prompt: What is your refund policy?
    params: {temperature: 0}
    assert:
      - {contains: "30 days"}
      - {judge: {route: judge, criteria: "States the 30-day window", min_score: 4}}
      - {similar_to: "Unused credit is refundable within 30 days of purchase.", min: 0.99, method: embedding}
  - id: greeting
    prompt: Say hello.
    assert:
      - {contains: "hello", ignore_case: true}
"""

CANDIDATE = """\
name: candidate
target: {deployment: candidate}
tests:
  - id: refund
    prompt: What is your refund policy?
    assert:
      - {not_contains: "no refunds", ignore_case: true}
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


CANARIES = "canaries: {suites: ['suites/*.yaml'], embedding_route: embed}\n"


def gateway_config(tmp_path: Path, canaries: str = CANARIES) -> Path:
    return write(tmp_path / "keel.yaml", gateway_yaml(tmp_path, canaries))


class Notes:
    """Collects alerts as the gateway's notifier would send them."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    def notify(self, kind: str, text: str, **fields: Any) -> None:
        self.sent.append((kind, text, fields))


@pytest.fixture
async def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Runtime]:
    monkeypatch.setenv("KEEL_ADMIN_KEY", ADMIN_KEY)
    write(tmp_path / "suites" / "support.yaml", SUPPORT)
    write(tmp_path / "suites" / "candidate.yaml", CANDIDATE)
    path = gateway_config(tmp_path)
    gateway = Runtime(load_runtime_config(path), path)
    await gateway.start()
    try:
        yield gateway
    finally:
        await gateway.aclose()


async def test_a_route_is_asked_through_the_pipeline_as_the_canary_identity_past_the_cache(
    runtime: Runtime,
) -> None:
    call = pipeline_call(runtime)
    messages = [{"role": "user", "content": "What is your refund policy?"}]
    for _ in range(2):
        assert await call(Target(route="bot"), messages, {"temperature": 0}) == Answer(REFUND, "good")
    deadline = time.monotonic() + 5
    while len(records := await runtime.request_log.recent(10)) < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert [(r.route, r.deployment, r.status, r.cache) for r in records] == [("bot", "good", 200, "bypass")] * 2
    assert {(r.key_id, r.feature) for r in records} == {(CANARY_IDENTITY.key_id, "canary")}


async def test_a_deployment_is_asked_directly_even_outside_every_route(runtime: Runtime) -> None:
    call = pipeline_call(runtime)
    answer = await call(Target(deployment="candidate"), [{"role": "user", "content": "Refunds?"}], {})
    assert answer == Answer("No refunds ever.", "candidate")


@pytest.mark.parametrize(
    ("target", "error"),
    [
        (Target(route="down"), "UpstreamUnavailable: The simulated upstream failed with HTTP 500."),
        (Target(deployment="broken"), "UpstreamUnavailable: The simulated upstream failed with HTTP 500."),
        (Target(route="nowhere"), "NotFound: The model 'nowhere' does not exist on this gateway"),
        (Target(deployment="nowhere"), "NotFound: no deployment named 'nowhere'"),
    ],
)
async def test_a_failed_call_is_reported_not_raised(runtime: Runtime, target: Target, error: str) -> None:
    answer = await pipeline_call(runtime)(target, [{"role": "user", "content": "hi"}], {})
    assert answer == CallFailed(error)


async def test_judges_and_embeddings_go_through_their_routes(runtime: Runtime) -> None:
    chat = pipeline_chat(runtime)
    assert await chat("judge", [{"role": "user", "content": "Grade this."}]) == GRADE.replace("%2C", ",")
    with pytest.raises(KeelError):
        await chat("nowhere", [{"role": "user", "content": "Grade this."}])
    vectors = await pipeline_embed(runtime)("embed", ["same text", "other text", "same text"])
    assert [len(v) for v in vectors] == [8, 8, 8]
    assert vectors[0] == vectors[2] and vectors[0] != vectors[1]


async def test_a_run_is_recorded_and_alerts_when_below_its_bar(runtime: Runtime) -> None:
    notes = Notes()
    service = CanaryService(dataclasses.replace(gateway_host(runtime), notifier=notes, clock=ManualClock(NOON)))
    run = await service.run("support", trigger="api")
    assert [(t.test_id, t.passed, t.trials) for t in run.tests] == [("refund", 2, 2), ("greeting", 0, 2)]
    refund = next(trial for trial in run.trials if trial.test_id == "refund")
    assert [o.kind for o in refund.outcomes] == ["contains", "judge", "similar_to"]
    assert all(o.passed for o in refund.outcomes) and refund.deployment == "good"
    assert (run.trigger, run.started_at, run.pass_rate, run.alert) == ("api", NOON, 0.5, True)
    [(kind, text, fields)] = notes.sent
    assert (kind, text) == ("canary_failed", run.describe())
    assert fields["suite"] == "support" and fields["pass_rate"] == 0.5 and fields["run_id"] == run.run_id
    assert await service.store.runs("support") == [run]


async def test_a_deployment_suite_asks_that_deployment(runtime: Runtime) -> None:
    service = CanaryService(gateway_host(runtime))
    run = await service.run("candidate", trigger="api")
    [trial] = run.trials
    assert (trial.deployment, trial.answer, trial.passed) == ("candidate", "No refunds ever.", False)


async def test_a_run_at_or_above_its_bar_raises_no_alert(runtime: Runtime) -> None:
    notes = Notes()
    service = CanaryService(dataclasses.replace(gateway_host(runtime), notifier=notes))
    lenient = service.suites()["support"].model_copy(update={"alert_below": 0.5})
    run = await service.execute(lenient, "api")
    assert run.pass_rate == 0.5 and not run.alert and notes.sent == []
    assert await service.store.latest("support") == run
    watched = await service.execute(service.suites()["support"], "cli", alert=False)
    assert watched.alert and notes.sent == []
    assert await service.store.latest("support") == watched


async def test_an_unknown_suite_names_the_known_ones(runtime: Runtime) -> None:
    service = CanaryService(gateway_host(runtime))
    with pytest.raises(UnknownSuite, match=r"'nope' \(configured: candidate, support\)"):
        await service.run("nope", trigger="api")


# Loading: every problem of every file, as config issues.


def config_with(tmp_path: Path, suites: dict[str, str], canaries: str) -> RuntimeConfig:
    for name, text in suites.items():
        write(tmp_path / "suites" / name, text)
    return load_runtime_config(gateway_config(tmp_path, canaries))


def test_suites_load_from_globs_and_paths_relative_to_the_config(tmp_path: Path) -> None:
    config = config_with(
        tmp_path,
        {"support.yaml": SUPPORT, "extra/candidate.yaml": CANDIDATE},
        "canaries: {suites: ['suites/*.yaml', suites/extra/candidate.yaml], embedding_route: embed}\n",
    )
    assert sorted(load_suites(config)) == ["candidate", "support"]


def test_every_problem_is_reported_with_its_file_and_field(tmp_path: Path) -> None:
    bad_refs = SUPPORT.replace("{route: bot}", "{route: missing}").replace("route: judge", "route: nojudge")
    config = config_with(
        tmp_path,
        {
            "a.yaml": bad_refs,
            "b.yaml": SUPPORT,
            "c.yaml": CANDIDATE.replace("not_contains", "not_a_check"),
            "d.yaml": CANDIDATE.replace("{deployment: candidate}", "{deployment: ghost}"),
        },
        "canaries: {suites: ['suites/*.yaml', 'none/*.yaml']}\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_suites(config)
    lines = [str(issue).replace(str(tmp_path), "") for issue in caught.value.issues]
    source = config.source.replace(str(tmp_path), "")
    assert lines == [
        f"{source}: canaries.suites[1]: matches no file",
        f"/suites/a.yaml: target.route: no route named 'missing' in {source}",
        f"/suites/a.yaml: tests[0].assert[1].judge.route: no route named 'nojudge' in {source} (test 'refund')",
        "/suites/a.yaml: tests[0].assert[2].method: embedding similarity needs canaries.embedding_route in the config"
        " (test 'refund')",
        "/suites/b.yaml: tests[0].assert[2].method: embedding similarity needs canaries.embedding_route in the config"
        " (test 'refund')",
        "/suites/b.yaml: name: another suite file is also named 'support'",
        "/suites/c.yaml: tests[0].assert[0]: an assertion needs exactly one of: contains, not_contains, regex,"
        " json_schema, similar_to, number, judge (test 'refund')",
        f"/suites/d.yaml: target.deployment: no deployment named 'ghost' in {source}",
    ]


def test_an_unknown_embedding_route_is_a_config_problem(tmp_path: Path) -> None:
    config = config_with(tmp_path, {"c.yaml": CANDIDATE}, "canaries: {suites: [suites/c.yaml], embedding_route: x}\n")
    with pytest.raises(ConfigError, match=r"canaries.embedding_route: no route named 'x'"):
        load_suites(config)


# The service on its own: plain functions for the gateway, a real store, a hand-moved clock.


@dataclasses.dataclass
class Gateway:
    """Answers every question with ``reply``; ``gate`` (when set) holds answers back until it opens."""

    config: RuntimeConfig
    reply: str = "fine"
    gate: asyncio.Event | None = None
    asked: int = 0

    async def call(self, target: Target, messages: list[dict[str, Any]], params: dict[str, Any]) -> AnswerOrError:
        self.asked += 1
        if self.gate is not None:
            await self.gate.wait()
        return Answer(self.reply, target.name)

    async def chat(self, route: str, messages: list[dict[str, Any]]) -> str:
        raise AssertionError("no judge in these suites")

    async def embed(self, route: str, texts: list[str]) -> list[list[float]]:
        raise AssertionError("no embeddings in these suites")


def scheduled(name: str, schedule: str, contains: str = "fine") -> str:
    return (
        f"name: {name}\ntarget: {{route: bot}}\nschedule: '{schedule}'\n"
        f"tests:\n  - id: t\n    prompt: hi\n    assert: [{{contains: {contains}}}]\n"
    )


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_database(f"sqlite:///{tmp_path}/canary.db")
    try:
        yield database
    finally:
        await database.aclose()


def service_for(
    gateway: Gateway,
    db: Database,
    clock: Any,
    claims: MemoryHotStore | None = None,
    config: Callable[[], RuntimeConfig] | None = None,
    **options: Any,
) -> tuple[CanaryService, Notes]:
    notes = Notes()
    store = claims or MemoryHotStore()
    options.setdefault("recheck_s", 86400.0)
    host = CanaryHost(
        config=config or (lambda: gateway.config),
        call=gateway.call,
        chat=gateway.chat,
        embed=gateway.embed,
        store=SqlCanaryStore(db),
        notifier=notes,
        clock=clock,
        claim=store.flag_set,
    )
    return CanaryService(host, **options), notes


def suites_config(tmp_path: Path, suites: dict[str, str], enabled: bool = True) -> RuntimeConfig:
    flag = "true" if enabled else "false"
    return config_with(tmp_path, suites, f"canaries: {{suites: ['suites/*.yaml'], enabled: {flag}}}\n")


async def test_a_suite_runs_when_its_schedule_fires(tmp_path: Path, db: Database) -> None:
    gateway = Gateway(suites_config(tmp_path, {"s.yaml": scheduled("every5", "*/5 * * * *")}))
    clock = ManualClock(NOON)
    service, _ = service_for(gateway, db, clock)
    first = await service.tick()
    assert first.started == () and first.delay_s == 120  # 12:03 → 12:05
    assert service.next_run_at("every5") == NOON + 120
    clock.advance(119)
    assert (await service.tick()).started == ()
    clock.advance(1)
    fired = await service.tick()
    assert fired.delay_s == 300 and len(fired.started) == 1
    run = await fired.started[0]
    assert run is not None and (run.trigger, run.started_at, run.pass_rate) == ("schedule", NOON + 120, 1.0)
    assert (await service.tick()).started == ()  # the same firing never runs twice
    assert await service.store.runs("every5") == [run]


async def test_the_earliest_schedule_sets_the_sleep_and_unscheduled_suites_never_run(
    tmp_path: Path, db: Database
) -> None:
    suites = {
        "a.yaml": scheduled("hourly", "@hourly"),
        "b.yaml": scheduled("soon", "4 12 * * *"),
        "c.yaml": scheduled("manual", "* * * * *").replace("schedule: '* * * * *'\n", ""),
    }
    gateway = Gateway(suites_config(tmp_path, suites))
    service, _ = service_for(gateway, db, ManualClock(NOON))
    assert (await service.tick()).delay_s == 60
    assert service.next_run_at("hourly") == NOON + 57 * 60 and service.next_run_at("manual") is None


async def test_a_suite_still_running_skips_its_next_firing(tmp_path: Path, db: Database, caplog: Any) -> None:
    gateway = Gateway(suites_config(tmp_path, {"s.yaml": scheduled("minutely", "* * * * *")}), gate=asyncio.Event())
    clock = ManualClock(NOON)
    service, _ = service_for(gateway, db, clock)
    await service.tick()
    clock.advance(60)
    [slow] = (await service.tick()).started
    await asyncio.sleep(0)
    assert service.running("minutely")
    clock.advance(60)
    with caplog.at_level(logging.WARNING, logger="keel.canary"):
        assert (await service.tick()).started == ()
    assert "minutely is still running" in caplog.text
    assert gateway.gate is not None
    gateway.gate.set()
    assert (await slow) is not None and not service.running("minutely")
    assert gateway.asked == 1


async def test_replicas_sharing_a_hot_store_run_each_firing_once(tmp_path: Path, db: Database) -> None:
    gateway = Gateway(suites_config(tmp_path, {"s.yaml": scheduled("minutely", "* * * * *")}))
    clock, claims = ManualClock(NOON), MemoryHotStore()
    replicas = [service_for(gateway, db, clock, claims)[0] for _ in range(3)]
    for replica in replicas:
        await replica.tick()
    clock.advance(60)
    started = [task for replica in replicas for task in (await replica.tick()).started]
    assert len(started) == 1
    await started[0]
    assert len(await replicas[0].store.runs("minutely")) == 1


async def test_disabled_scheduling_leaves_runs_to_demand(tmp_path: Path, db: Database) -> None:
    gateway = Gateway(suites_config(tmp_path, {"s.yaml": scheduled("minutely", "* * * * *")}, enabled=False))
    clock = ManualClock(NOON)
    service, notes = service_for(gateway, db, clock, recheck_s=7.0)
    for _ in range(3):
        assert await service.tick() == Tick((), 7.0)
        clock.advance(60)
    assert service.next_run_at("minutely") is None and gateway.asked == 0
    gateway.reply = "wrong"
    run = await service.run("minutely", trigger="api")
    assert run.alert and [kind for kind, _, _ in notes.sent] == ["canary_failed"]


async def test_changed_suite_files_are_picked_up_and_broken_ones_refused(tmp_path: Path, db: Database) -> None:
    gateway = Gateway(suites_config(tmp_path, {"s.yaml": scheduled("first", "@daily")}))
    service, _ = service_for(gateway, db, ManualClock(NOON))
    assert list(service.suites()) == ["first"]
    write(tmp_path / "suites" / "t.yaml", scheduled("second", "@daily"))
    assert list(service.suites()) == ["first", "second"]
    write(tmp_path / "suites" / "t.yaml", "name: second\ntarget: {route: bot}\n")
    assert list(service.suites()) == ["first", "second"]
    assert service.problems == (f"{tmp_path}/suites/t.yaml: tests: required key is missing",)
    (tmp_path / "suites" / "t.yaml").unlink()
    assert list(service.suites()) == ["first"] and service.problems == ()


async def test_a_reloaded_config_changes_the_suites(tmp_path: Path, db: Database) -> None:
    gateway = Gateway(suites_config(tmp_path, {"s.yaml": scheduled("first", "@daily")}))
    service, _ = service_for(gateway, db, ManualClock(NOON))
    assert list(service.suites()) == ["first"]
    write(tmp_path / "other" / "o.yaml", scheduled("other", "@daily"))
    gateway.config = load_runtime_config(gateway_config(tmp_path, "canaries: {suites: [other/o.yaml]}\n"))
    assert list(service.suites()) == ["other"]
    await service.tick()
    assert service.next_run_at("first") is None and service.next_run_at("other") is not None


class ShiftedClock:
    """Real time, shifted at its first reading so that the next minute starts ``lead_s`` later."""

    def __init__(self, lead_s: float) -> None:
        self.lead_s = lead_s
        self.offset: float | None = None

    def now(self) -> float:
        real = time.time()
        if self.offset is None:
            self.offset = math.floor(real / 60) * 60 + 60 - self.lead_s - real
        return real + self.offset

    def monotonic(self) -> float:
        return time.perf_counter()


async def test_the_scheduler_loop_survives_failures_and_stops_cleanly(tmp_path: Path, db: Database) -> None:
    gateway = Gateway(suites_config(tmp_path, {"s.yaml": scheduled("minutely", "* * * * *")}))
    failures = 2

    def flaky_config() -> RuntimeConfig:
        nonlocal failures
        if failures:
            failures -= 1
            raise OSError("config briefly unreadable")
        return gateway.config

    service, _ = service_for(gateway, db, ShiftedClock(lead_s=0.3), config=flaky_config, recheck_s=0.05)
    service.start()
    try:
        deadline = time.monotonic() + 5
        while not await service.store.runs("minutely") and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        [run] = await service.store.runs("minutely")
        assert run.trigger == "schedule" and failures == 0
    finally:
        await service.aclose()
    stopped = gateway.asked
    await asyncio.sleep(0.1)
    assert gateway.asked == stopped == 1


async def test_closing_cancels_runs_in_progress(tmp_path: Path, db: Database) -> None:
    gateway = Gateway(suites_config(tmp_path, {"s.yaml": scheduled("minutely", "* * * * *")}), gate=asyncio.Event())
    clock = ManualClock(NOON)
    service, _ = service_for(gateway, db, clock)
    await service.tick()
    clock.advance(60)
    [task] = (await service.tick()).started
    await asyncio.sleep(0)
    await asyncio.wait_for(service.aclose(), timeout=5)
    assert task.cancelled() and await service.store.runs("minutely") == []


# The admin API.


@pytest.fixture
async def admin(runtime: Runtime) -> AsyncIterator[Callable[..., Any]]:
    """``admin(method, path, key=ADMIN_KEY)`` → (status, JSON body), against the gateway's own app."""
    async with TestServer(build_app(runtime)) as server, aiohttp.ClientSession() as http:

        async def request(method: str, path: str, key: str | None = ADMIN_KEY) -> tuple[int, Any]:
            headers = {"authorization": f"Bearer {key}"} if key else {}
            async with http.request(method, server.make_url(path), headers=headers) as response:
                return response.status, await response.json()

        yield request


async def test_the_admin_api_needs_the_admin_key(admin: Callable[..., Any], runtime: Runtime) -> None:
    _, user_key = await runtime.keyring.create(name="app", allowed=("*",))
    for method, path in [
        ("GET", "/admin/canaries"),
        ("POST", "/admin/canaries/support/run"),
        ("GET", "/admin/canaries/support/runs"),
    ]:
        assert (await admin(method, path, key=None))[0] == 401
        status, body = await admin(method, path, key=user_key)
        assert (status, body["error"]["code"]) == (403, "admin_only")
    assert await runtime.canaries.store.runs("support") == []


async def test_a_suite_runs_now_through_the_api_and_shows_in_the_listing(
    admin: Callable[..., Any], runtime: Runtime
) -> None:
    status, listing = await admin("GET", "/admin/canaries")
    assert status == 200 and listing["problems"] == []
    assert [(s["name"], s["schedule"], s["last_run"]) for s in listing["data"]] == [
        ("candidate", None, None),
        ("support", None, None),
    ]
    status, run = await admin("POST", "/admin/canaries/support/run")
    assert status == 200
    assert [run[k] for k in ("object", "suite", "trigger", "passed", "total")] == ["canary.run", "support", "api", 2, 4]
    assert run["alert"] and run["target"] == {"kind": "route", "name": "bot"}
    assert run["tests"] == [
        {"id": "refund", "trials": 2, "passed": 2, "pass_rate": 1.0},
        {"id": "greeting", "trials": 2, "passed": 0, "pass_rate": 0.0},
    ]
    failed = next(t for t in run["trials"] if not t["passed"])
    assert failed["outcomes"] == [{"kind": "contains", "passed": False, "detail": "'hello' is not in the answer"}]
    assert (await runtime.canaries.store.latest("support")).run_id == run["id"]  # type: ignore[union-attr]
    _, listing = await admin("GET", "/admin/canaries")
    last = {s["name"]: s["last_run"] for s in listing["data"]}
    assert last["candidate"] is None and last["support"]["id"] == run["id"]
    assert last["support"]["pass_rate"] == 0.5 and "trials" not in last["support"]


async def test_the_api_gives_history_with_flakiness(admin: Callable[..., Any]) -> None:
    for _ in range(3):
        assert (await admin("POST", "/admin/canaries/candidate/run"))[0] == 200
    status, history = await admin("GET", "/admin/canaries/candidate/runs?limit=2")
    assert status == 200 and history["suite"] == "candidate"
    assert [run["passed"] for run in history["runs"]] == [0, 0]
    assert history["tests"] == [
        {
            "id": "refund",
            "executions": 2,
            "verdicts": ["fail", "fail"],
            "trials": 2,
            "passed": 0,
            "pass_rate": 0.0,
            "flips": 0,
            "flaky": False,
        }
    ]


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("POST", "/admin/canaries/nope/run", 404, "suite_not_found"),
        ("GET", "/admin/canaries/nope/runs", 404, "suite_not_found"),
        ("GET", "/admin/canaries/support/runs?limit=0", 400, None),
        ("GET", "/admin/canaries/support/runs?limit=many", 400, None),
    ],
)
async def test_the_api_refuses_unknown_suites_and_bad_limits(
    admin: Callable[..., Any], method: str, path: str, status: int, code: str | None
) -> None:
    got, body = await admin(method, path)
    assert got == status and body["error"]["code"] == code, body


async def test_a_broken_suite_file_is_listed_as_a_problem(admin: Callable[..., Any], tmp_path: Path) -> None:
    assert len((await admin("GET", "/admin/canaries"))[1]["data"]) == 2
    write(tmp_path / "suites" / "candidate.yaml", CANDIDATE.replace("not_contains", "not_a_check"))
    status, listing = await admin("GET", "/admin/canaries")
    assert status == 200 and [s["name"] for s in listing["data"]] == ["candidate", "support"]
    assert listing["problems"] == [
        f"{tmp_path}/suites/candidate.yaml: tests[0].assert[0]: an assertion needs exactly one of: contains,"
        " not_contains, regex, json_schema, similar_to, number, judge (test 'refund')"
    ]
