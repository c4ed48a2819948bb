"""Canaries inside the gateway: the suites ``keel.yaml`` lists, run on demand or on their schedules.

``CanaryService`` reads the suite files, runs a suite through a ``CanaryHost`` (how to ask the gateway a
question, where runs are kept, who hears alerts, what time it is), records every run and alerts when one
falls below its bar. ``gateway_host`` builds the host from a running ``Runtime``: a route is asked through
the request pipeline, as a client would be served; a deployment is asked directly, non-streaming.

The scheduler is one task: it sleeps until the earliest next firing of any scheduled suite, starts the
due ones in the background and sleeps again. A suite still running when it is due again skips that
firing, so two runs of one suite never overlap. Each firing is claimed on the hot store first, so
replicas sharing one store run it once. Suites are re-read whenever the config or a suite file changes;
a broken change is logged and the suites loaded before stay in service.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from keel.canary import cron
from keel.canary.assertions import ChatFn
from keel.canary.config import load_suites, suite_sources
from keel.canary.flaky import TestHistory, history_report
from keel.canary.runner import Answer, AnswerOrError, CallFailed, CallFn, SuiteRun, run_suite
from keel.canary.store import SqlCanaryStore
from keel.canary.suite import Suite, Target
from keel.config.errors import ConfigError
from keel.core.clock import Clock, SystemClock
from keel.core.context import Json, RequestContext
from keel.core.errors import KeelError, NotFound, ServiceUnavailable, UpstreamBadResponse
from keel.core.identity import Identity

if TYPE_CHECKING:
    from keel.config.runtime import RuntimeConfig
    from keel.services.runtime import Runtime, Snapshot

log = logging.getLogger("keel.canary")

RECHECK_S = 30.0
"""Longest the scheduler sleeps by default: how soon it notices a changed config, suite file or schedule."""
CLAIM_TTL_S = 86400.0
"""How long a replica's claim on one firing is remembered: far longer than clocks drift apart."""

# A canary must reach a model: an answer from the exact cache would stay green through a regression.
_FRESH: Mapping[str, str] = MappingProxyType({"x-keel-cache": "bypass"})

CANARY_IDENTITY = Identity(key_id="admin", allowed=frozenset({"*"}), feature="canary", is_admin=True)
"""Canary requests pass as the admin's, tagged ``feature: canary`` in the request log so their cost shows apart."""

EmbedVia = Callable[[str, list[str]], Awaitable[Sequence[Sequence[float]]]]
"""``embed(route, texts)``: one vector per text, from the embeddings endpoint of ``route``."""
Claim = Callable[[str, float], Awaitable[bool]]
"""``claim(key, ttl_s)``: True for the one caller, across replicas, that claims ``key`` first."""


class Notifier(Protocol):
    def notify(self, kind: str, text: str, **fields: Any) -> None: ...


@dataclass(frozen=True, slots=True)
class CanaryHost:
    """What the canary service needs of the gateway around it."""

    config: Callable[[], RuntimeConfig]
    call: CallFn
    chat: ChatFn
    embed: EmbedVia
    store: SqlCanaryStore
    notifier: Notifier
    clock: Clock
    claim: Claim


class UnknownSuite(LookupError):
    def __init__(self, name: str, known: Sequence[str]) -> None:
        listed = ", ".join(sorted(known)) or "none"
        super().__init__(f"no canary suite named {name!r} (configured: {listed})")


@dataclass(frozen=True, slots=True)
class Tick:
    """What one pass of the scheduler did: the runs it started, and how long to sleep before the next."""

    started: tuple[asyncio.Task[SuiteRun | None], ...]
    delay_s: float


@dataclass(frozen=True, slots=True)
class SuiteHistory:
    suite: str
    runs: list[SuiteRun]
    """Newest first."""
    tests: list[TestHistory]


class CanaryService:
    def __init__(self, host: CanaryHost, *, recheck_s: float = RECHECK_S) -> None:
        self._host = host
        self._recheck_s = recheck_s
        self.store = host.store
        self._suites: dict[str, Suite] = {}
        self._sources: tuple[object, ...] | None = None
        self.problems: tuple[str, ...] = ()
        """Why the latest change to the suites was refused; empty when they loaded."""
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._next: dict[str, tuple[str, float]] = {}
        """Per scheduled suite: its schedule and its next firing (epoch seconds)."""
        self._task: asyncio.Task[None] | None = None
        self._runs: set[asyncio.Task[SuiteRun | None]] = set()

    def suites(self) -> dict[str, Suite]:
        """The suites as the config and the suite files now say, read again only when one has changed."""
        config = self._host.config()
        sources = suite_sources(config)
        if sources != self._sources:
            self._sources = sources
            try:
                self._suites = load_suites(config)
                self.problems = ()
            except ConfigError as error:
                self.problems = tuple(str(issue) for issue in error.issues)
                log.error("canary suites refused, keeping the %d loaded before:\n%s", len(self._suites), error)
        return self._suites

    def next_run_at(self, name: str) -> float | None:
        """When the scheduler will next run ``name`` (epoch seconds), if it is scheduled."""
        planned = self._next.get(name)
        return planned[1] if planned is not None else None

    def running(self, name: str) -> bool:
        lock = self._locks.get(name)
        return lock is not None and lock.locked()

    async def run(self, name: str, trigger: str) -> SuiteRun:
        suites = self.suites()
        if name not in suites:
            raise UnknownSuite(name, list(suites))
        return await self.execute(suites[name], trigger)

    async def execute(self, suite: Suite, trigger: str, *, alert: bool = True) -> SuiteRun:
        """Run ``suite`` once a run of it in progress has finished; alert when below its bar, then record.

        ``alert=False`` is for a caller that shows the run to the person who asked for it.
        """
        async with self._locks[suite.name]:
            settings = self._host.config().raw.canaries
            embed_route = settings.embedding_route
            run = await run_suite(
                suite,
                self._host.call,
                chat=self._host.chat,
                embed=partial(self._host.embed, embed_route) if embed_route is not None else None,
                now=self._host.clock.now,
                monotonic=self._host.clock.monotonic,
                concurrency=settings.concurrency,
                trigger=trigger,
            )
            if alert and run.alert:
                # Before recording: the alert must go out even when the database is away.
                self._host.notifier.notify(
                    "canary_failed",
                    run.describe(),
                    suite=run.suite,
                    pass_rate=run.pass_rate,
                    alert_below=run.alert_below,
                    target=str(run.target),
                    run_id=run.run_id,
                    trigger=trigger,
                )
            await self.store.record(run)
            return run

    async def history(self, name: str, limit: int) -> SuiteHistory:
        return await suite_history(self.store, name, limit)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="keel-canaries")

    async def aclose(self) -> None:
        """Stop the scheduler; runs in progress are cancelled and not recorded."""
        tasks = [task for task in (self._task, *self._runs) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def tick(self) -> Tick:
        """Start every scheduled suite that is due; say how long to sleep until the next one is."""
        suites = self.suites()
        enabled = self._host.config().raw.canaries.enabled
        now = self._host.clock.now()
        started: list[asyncio.Task[SuiteRun | None]] = []
        delay = self._recheck_s
        for name in list(self._next):
            if not enabled or name not in suites or suites[name].schedule is None:
                del self._next[name]
        for name, suite in suites.items():
            if not enabled or suite.schedule is None:
                continue
            schedule, due = self._next.get(name, (None, 0.0))
            if schedule == suite.schedule and due <= now:
                task = await self._fire(suite, due)
                if task is not None:
                    started.append(task)
            if schedule != suite.schedule or due <= now:
                due = _next_firing(suite.schedule, now)
                self._next[name] = (suite.schedule, due)
            delay = min(delay, due - now)
        return Tick(tuple(started), max(0.0, delay))

    async def _fire(self, suite: Suite, due: float) -> asyncio.Task[SuiteRun | None] | None:
        if self.running(suite.name):
            log.warning("canary suite %s is still running; its run due at %s is skipped", suite.name, _iso(due))
            return None
        if not await self._host.claim(f"canary:{suite.name}:{int(due)}", CLAIM_TTL_S):
            return None  # another replica runs this one
        task = asyncio.get_running_loop().create_task(self._scheduled(suite), name=f"keel-canary-{suite.name}")
        self._runs.add(task)
        task.add_done_callback(self._runs.discard)
        return task

    async def _scheduled(self, suite: Suite) -> SuiteRun | None:
        try:
            return await self.execute(suite, "schedule")
        except Exception:
            log.exception("canary suite %s: the scheduled run failed", suite.name)
            return None

    async def _loop(self) -> None:
        while True:
            try:
                delay = (await self.tick()).delay_s
            except Exception:  # the hot store or the file system is away: try again shortly
                log.exception("canary scheduler: no suites started this time")
                delay = self._recheck_s
            await asyncio.sleep(delay)


async def suite_history(store: SqlCanaryStore, name: str, limit: int) -> SuiteHistory:
    """The suite's last ``limit`` runs, and each test's pass rate and flakiness over them."""
    runs = await store.runs(name, limit)
    return SuiteHistory(name, runs, history_report(runs, window=limit))


def _next_firing(schedule: str, now: float) -> float:
    return cron.next_after(schedule, datetime.fromtimestamp(now, UTC)).timestamp()


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def gateway_host(runtime: Runtime) -> CanaryHost:
    """The host for a running gateway: its pipeline and providers, database, alerts and hot store."""
    return CanaryHost(
        config=lambda: runtime.snapshot.config,
        call=pipeline_call(runtime),
        chat=pipeline_chat(runtime),
        embed=pipeline_embed(runtime),
        store=SqlCanaryStore(runtime.db),
        notifier=runtime.alerts,
        clock=SystemClock(),
        claim=runtime.hot_store.flag_set,
    )


def pipeline_call(runtime: Runtime) -> CallFn:
    """Ask a route through the whole pipeline, or a deployment's provider directly; never streaming."""

    async def call(target: Target, messages: list[dict[str, Any]], params: dict[str, Any]) -> AnswerOrError:
        body = {**params, "model": target.name, "messages": messages}
        try:
            if target.deployment is not None:
                return await _ask_deployment(runtime.snapshot, target.deployment, body)
            completion, ctx = await _through_pipeline(runtime, "chat.completions", body, _FRESH)
            return Answer(_answer_text(completion), ctx.deployment.name if ctx.deployment is not None else None)
        except KeelError as error:
            return CallFailed(f"{error.error_class}: {error.message}")

    return call


def pipeline_chat(runtime: Runtime) -> ChatFn:
    """The text a route answers, for judges; a failure raises its ``KeelError``."""

    async def chat(route: str, messages: list[dict[str, Any]]) -> str:
        completion, _ = await _through_pipeline(runtime, "chat.completions", {"model": route, "messages": messages})
        return _answer_text(completion)

    return chat


def pipeline_embed(runtime: Runtime) -> EmbedVia:
    """Embeddings from a route's embeddings endpoint, through the pipeline; a failure raises."""

    async def embed(route: str, texts: list[str]) -> list[list[float]]:
        answer, _ = await _through_pipeline(runtime, "embeddings", {"model": route, "input": texts})
        try:
            items = sorted(answer["data"], key=lambda item: item["index"])
            vectors = [[float(x) for x in item["embedding"]] for item in items]
        except (KeyError, TypeError, ValueError):
            raise UpstreamBadResponse(f"route {route!r} answered embeddings in an unexpected shape") from None
        if len(vectors) != len(texts):
            raise UpstreamBadResponse(f"route {route!r} gave {len(vectors)} embeddings for {len(texts)} texts")
        return vectors

    return embed


async def _through_pipeline(
    runtime: Runtime, endpoint: str, body: Json, headers: Mapping[str, str] = MappingProxyType({})
) -> tuple[Json, RequestContext]:
    snapshot = runtime.snapshot
    ctx = RequestContext(
        request_id=runtime.request_ids.new(),
        endpoint=endpoint,
        config=snapshot.config,
        ts=time.time(),
        started=time.perf_counter(),
        raw_body=orjson.dumps(body),
        headers=headers,
        identity=CANARY_IDENTITY,
    )
    reply = await snapshot.pipeline(ctx)
    if reply.body is None:
        raise UpstreamBadResponse(f"{endpoint} answered without a body")
    return reply.body, ctx


async def _ask_deployment(snapshot: Snapshot, name: str, body: Json) -> Answer:
    deployment = snapshot.config.deployments.get(name)
    if deployment is None:
        raise NotFound(f"no deployment named {name!r}")
    if deployment.disabled is not None:
        raise ServiceUnavailable(f"deployment {name!r} cannot be used: {deployment.disabled}")
    return Answer(_answer_text(await snapshot.providers[name].chat(body)), name)


def _answer_text(completion: Json) -> str:
    try:
        content = completion["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        content = None
    if not isinstance(content, str):
        raise UpstreamBadResponse("the answer has no message text")
    return content
