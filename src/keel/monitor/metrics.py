"""Prometheus metrics, on a registry owned by the running gateway (no module-level state)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_FAST = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
_SLOW = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._hooks: list[Callable[[], None]] = []
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        labels = ("endpoint", "route", "deployment", "status")
        self.requests = Counter("keel_requests", "Requests served, by outcome", labels, registry=self.registry)
        self.overhead = Histogram(
            "keel_overhead_seconds",
            "Time spent in Keel per request, upstream time excluded",
            ("endpoint", "route"),
            buckets=_FAST,
            registry=self.registry,
        )
        self.duration = Histogram(
            "keel_request_duration_seconds",
            "Total request time as the client sees it",
            ("endpoint", "route"),
            buckets=_SLOW,
            registry=self.registry,
        )
        self.ttft = Histogram(
            "keel_time_to_first_token_seconds",
            "Time to the first streamed chunk",
            ("route", "deployment"),
            buckets=_SLOW,
            registry=self.registry,
        )
        self.tokens = Counter("keel_tokens", "Tokens, by kind", ("route", "deployment", "kind"), registry=self.registry)
        self.attempts = Counter(
            "keel_upstream_attempts",
            "Calls to deployments, by kind (primary, retry, failover, spillover, fallback, hedge, safe_mode) "
            "and outcome (ok or the error class)",
            ("route", "deployment", "kind", "outcome"),
            registry=self.registry,
        )
        self.cost = Counter(
            "keel_cost_usd",
            "Spend in USD, from upstream usage and prices",
            ("route", "deployment"),
            registry=self.registry,
        )
        self.safe_mode = Counter(
            "keel_safe_mode_answers", "Answers served by a route's safe-mode path", ("route",), registry=self.registry
        )
        self.errors = Counter(
            "keel_errors",
            "Requests that failed, by error class (RateLimited, UpstreamTimeout, GuardBlocked, ...)",
            ("route", "deployment", "error_class"),
            registry=self.registry,
        )
        self.cache_lookups = Counter(
            "keel_cache_lookups",
            "Cache outcomes on routes with a cache: hit, semantic_hit, miss, bypass",
            ("route", "result"),
            registry=self.registry,
        )
        self.guard_verdicts = Counter(
            "keel_guard_verdicts",
            "Guard verdicts, by route, guard, stage (input, output) and action (allow, flag, redact, block, ...)",
            ("route", "guard", "stage", "action"),
            registry=self.registry,
        )
        self.guard_errors = Counter(
            "keel_guard_errors", "Guards that crashed or timed out", ("route", "guard", "stage"), registry=self.registry
        )
        self.hot_store_up = Gauge(
            "keel_hot_store_up",
            "1 while the hot-counter store (Redis) answers; 0 while Keel runs on its failure policy",
            registry=self.registry,
        )
        self.hot_store_up.set(1)
        self.shed = Counter(
            "keel_shed_requests", "Requests refused by load shedding", ("reason",), registry=self.registry
        )
        self.circuit_open = Gauge(
            "keel_circuit_open",
            "1 while a deployment's circuit is open or half-open",
            ("deployment",),
            registry=self.registry,
        )
        self.config_reloads = Counter(
            "keel_config_reloads", "Config reloads, by result", ("result",), registry=self.registry
        )
        self.log_pending = Gauge(
            "keel_request_log_pending", "Request records waiting to be written", registry=self.registry
        )
        self.log_spooled = Gauge(
            "keel_request_log_spooled_total",
            "Request records written to the local spool because the database was unreachable",
            registry=self.registry,
        )
        self.log_written = Gauge(
            "keel_request_log_written_total",
            "Request records written to the database",
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "keel_requests_in_flight", "Requests admitted and not yet answered (this process)", registry=self.registry
        )
        self.queued = Gauge(
            "keel_requests_queued",
            "Requests waiting for a slot under load shedding (this process)",
            registry=self.registry,
        )
        self.retention_deleted = Counter(
            "keel_retention_deleted",
            "Rows deleted for being older than their retention limit, by kind",
            ("kind",),
            registry=self.registry,
        )

    def watch_admission(self, in_flight: Callable[[], float], queued: Callable[[], float]) -> None:
        self.in_flight.set_function(in_flight)
        self.queued.set_function(queued)

    def watch_log_writer(
        self, pending: Callable[[], float], spooled: Callable[[], float], written: Callable[[], float]
    ) -> None:
        self.log_pending.set_function(pending)
        self.log_spooled.set_function(spooled)
        self.log_written.set_function(written)

    def child(self, metric: Counter | Histogram, *labels: str) -> Any:
        """``metric.labels(*labels)``, cached: the request path records several metrics per request."""
        key = (id(metric), labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def on_scrape(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` before each scrape: for gauges read from live state rather than pushed."""
        self._hooks.append(hook)

    def render(self) -> bytes:
        for hook in self._hooks:
            hook()
        return generate_latest(self.registry)
