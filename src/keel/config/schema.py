"""The raw ``keel.yaml`` model: exactly what a user may write, and nothing else.

Every section is strict (unknown keys and wrong types are errors). Cross-references (a route naming a
deployment that does not exist, an unknown provider) are checked in ``resolve.py``, where the
catalogue is known.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from keel.cache.config import CacheConfig, CacheStoreConfig, SemanticRouteConfig, SemanticStoreConfig
from keel.canary.config import CanariesConfig
from keel.config.base import StrictModel
from keel.config.resilience import (
    Capacity,
    CircuitConfig,
    HedgeConfig,
    RetryConfig,
    SafeModeConfig,
    SheddingConfig,
    StickyConfig,
    Strategy,
    TimeoutOverrides,
    Timeouts,
)
from keel.cost.prices import Price
from keel.guards.config import GuardsConfig
from keel.hot.config import Budget, HotStoreConfig, RateLimit
from keel.monitor.drift_route import RouteDriftConfig
from keel.monitor.rules.config import AlertRule
from keel.monitor.tracing import TracingConfig
from keel.review.config import ConfidenceConfig
from keel.rollout.config import RolloutConfig
from keel.routing.tiering.config import TieringConfig
from keel.shadow.config import ShadowConfig
from keel.simulator.behaviour import SimulatedModel
from keel.store.retention import RetentionConfig

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$"
_NAME = re.compile(NAME_PATTERN)


class ServerConfig(StrictModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    """Largest accepted request body; larger ones get a 413."""
    shedding: SheddingConfig = SheddingConfig()
    kill_switch_refresh_s: float = Field(default=1.0, gt=0, le=60)
    """How often each process reloads kill switches set elsewhere (switches set through this
    process's admin API apply at once)."""


class AnonymousAccess(StrictModel):
    """Requests without a Keel key (or with a token that is not a Keel key) may use these routes."""

    routes: tuple[str, ...] = ("*",)


class AuthConfig(StrictModel):
    anonymous: AnonymousAccess | None = None
    """Off by default: every request needs a virtual key or the admin key."""
    key_refresh_s: float = Field(default=2.0, gt=0, le=3600)
    """How often each process reloads virtual keys from the store (bounds revocation delay)."""


class StorageConfig(StrictModel):
    """Relative paths are relative to the directory Keel is started in."""

    data_dir: str = ".keel"
    """Local state: the key-hashing secret (when ``KEEL_SECRET`` is not set) and the spool."""
    database_url: str = "sqlite:///.keel/keel.db"
    """``sqlite:///path`` (default, embedded) or ``postgresql://user:pass@host:5432/db``."""
    database_schema: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
    """PostgreSQL only: keep Keel's tables in this schema (created if missing) of a shared database."""
    spool_dir: str | None = None
    """Where request-log batches wait while the database is unreachable (default: data_dir/spool)."""
    log_batch_size: int = Field(default=500, ge=1, le=100_000)
    log_flush_interval_s: float = Field(default=0.2, gt=0, le=60)
    retention: RetentionConfig = RetentionConfig()
    """Days to keep each kind of record (request log, shadow results, canary runs, …); default: for ever."""


class FaqSource(StrictModel):
    file: str
    """YAML or CSV file of questions and answers; relative paths are relative to the config file."""
    min_confidence: float = Field(default=0.0, ge=0, le=1)
    fallback_answer: str | None = None


class DeploymentConfig(StrictModel):
    """One way to answer: a provider, an upstream model, an endpoint and its credentials."""

    provider: str
    """A catalogue vendor (openai, azure, anthropic, groq, …) or a built-in (simulator, faq)."""
    model: str = ""
    """The upstream's model name (for Azure: the deployment name). Defaults to the deployment's name."""
    api_base: str | None = None
    api_key: str | None = None
    api_version: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    public: bool = False
    """Clients may name this deployment directly as ``model`` (when their key allows it)."""
    timeouts: Timeouts = Timeouts()
    weight: float = Field(default=1.0, gt=0)
    """Share of traffic under the ``weighted`` strategy (relative to the pool's other weights)."""
    region: str | None = None
    capacity: Capacity | None = None
    """Provisioned capacity; deployments with it are preferred until it is used up (spillover)."""
    circuit: CircuitConfig = CircuitConfig()
    price: Price | None = None
    """Overrides the price catalogue (USD per million input, output and cached-input tokens)."""
    context_window: int | None = Field(default=None, ge=1)
    """Prompt tokens the model takes; a longer prompt goes to the route's context_window_fallback."""
    simulator: SimulatedModel | None = None
    faq: FaqSource | None = None


class RouteConfig(StrictModel):
    """An AI feature: the model alias its clients send, served by one or more deployments."""

    deployments: tuple[str, ...] = ()
    """The pool; ``strategy`` orders it for each request (``priority``: as written). A tiered route
    gives ``tiering`` instead, and its pool is the tier the request is sent to."""
    tiering: TieringConfig | None = None
    """Tiers cheapest first: simple requests are served by a cheap tier, failed cheap answers escalate."""
    strategy: Strategy = "priority"
    sticky: StickyConfig | None = None
    fallbacks: tuple[str, ...] = ()
    """Tried in this order after the pool: other providers, other regions."""
    context_window_fallback: str | None = None
    content_policy_fallback: str | None = None
    retries: RetryConfig = RetryConfig()
    timeouts: TimeoutOverrides = TimeoutOverrides()
    hedge: HedgeConfig | None = None
    safe_mode: SafeModeConfig | None = None
    rate_limit: RateLimit | None = None
    cache: CacheConfig | None = None
    """The exact cache: repeated identical requests are answered from it (``enabled: true``)."""
    semantic_cache: SemanticRouteConfig | None = None
    """The semantic cache: prompts close to one answered before get that answer (see docs/semantic-cache.md)."""
    guards: GuardsConfig | None = None
    """Checks on the request (``input``) and the answer (``output``): PII, prompt injection, validators."""
    shadow: ShadowConfig | None = None
    """Mirror a share of the answered requests to a candidate deployment, off the request path."""
    rollout: RolloutConfig | None = None
    """A canary rollout: a new deployment takes a growing share of the traffic (docs/rollouts.md)."""
    drift: RouteDriftConfig | None = None
    """Watch the route's inputs and outputs for drift against a frozen baseline window."""
    confidence: ConfidenceConfig | None = None
    """Score each answer; below the threshold, answer from the safe mode or queue it for human review."""
    description: str = ""
    log_bodies: bool = False
    """Store request and response bodies in the request log (off by default)."""

    @model_validator(mode="after")
    def _one_pool(self) -> RouteConfig:
        if self.tiering is None and not self.deployments:
            raise ValueError("a route needs `deployments` (or `tiering` with its tiers)")
        if self.tiering is not None and self.deployments:
            raise ValueError("give either `deployments` or `tiering`, not both: each tier lists its own deployments")
        return self

    @model_validator(mode="after")
    def _confidence_can_fall_back(self) -> RouteConfig:
        if self.confidence is not None and self.confidence.falls_back and self.safe_mode is None:
            raise ValueError("`confidence.below` falls back to the safe mode, but the route has no `safe_mode`")
        return self

    @property
    def pool(self) -> tuple[str, ...]:
        """The deployments a request goes to when no tier is chosen: the pool, or the strongest tier."""
        return self.tiering.strongest.deployments if self.tiering is not None else self.deployments


class RateLimits(StrictModel):
    """Requests and tokens per minute, per virtual key (by key id) and per team."""

    default_key: RateLimit | None = None
    """For every key without its own entry."""
    keys: dict[str, RateLimit] = Field(default_factory=dict)
    teams: dict[str, RateLimit] = Field(default_factory=dict)


class AlertsConfig(StrictModel):
    webhooks: tuple[str, ...] = ()
    """URLs that get a JSON POST for every alert (budget thresholds crossed, rules firing, …)."""
    slack_webhooks: tuple[str, ...] = ()
    """Slack incoming-webhook URLs: the same alerts as Slack messages."""
    evaluate_every_s: float = Field(default=30.0, ge=1, le=3600)
    rules: tuple[AlertRule, ...] = ()
    """Thresholds over signals from the request log, held for a duration; see ``monitor/rules``."""

    @field_validator("rules")
    @classmethod
    def _distinct(cls, rules: tuple[AlertRule, ...]) -> tuple[AlertRule, ...]:
        names = [rule.name for rule in rules]
        if len(set(names)) != len(names):
            raise ValueError("alert rule names must be distinct")
        return rules


class KeelConfig(StrictModel):
    version: Literal[1] = 1
    server: ServerConfig = ServerConfig()
    auth: AuthConfig = AuthConfig()
    storage: StorageConfig = StorageConfig()
    hot_store: HotStoreConfig = HotStoreConfig()
    cache_store: CacheStoreConfig = CacheStoreConfig()
    semantic_cache: SemanticStoreConfig = SemanticStoreConfig()
    rate_limits: RateLimits = RateLimits()
    budgets: tuple[Budget, ...] = ()
    alerts: AlertsConfig = AlertsConfig()
    tracing: TracingConfig = TracingConfig()
    """OpenTelemetry traces of every request (GenAI semantic conventions), exported over OTLP/HTTP."""
    canaries: CanariesConfig = CanariesConfig()
    """Golden canary suites: which suite files run, and whether on their schedules."""
    routes: dict[str, RouteConfig] = Field(default_factory=dict)
    deployments: dict[str, DeploymentConfig] = Field(default_factory=dict)

    @field_validator("routes", "deployments")
    @classmethod
    def _names(cls, value: dict[str, object]) -> dict[str, object]:
        for name in value:
            if not _NAME.match(name):
                raise ValueError(f"invalid name {name!r}: use letters, digits and . _ : / - (max 128)")
        return value
