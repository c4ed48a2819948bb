"""The state of one request as it moves through the pipeline."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from keel.core.identity import Identity
from keel.store.records import AttemptRecord

if TYPE_CHECKING:
    from keel.config.runtime import Deployment, Route, RuntimeConfig
    from keel.guards.base import GuardState

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class PlanStep:
    deployment: str
    kind: str = "primary"  # primary, failover, spillover, fallback (see AttemptRecord.kind)


@dataclass(slots=True)
class Reply:
    """What goes back to the client: a JSON body, or a stream of ready-encoded SSE frames."""

    status: int = 200
    body: Json | None = None
    stream: AsyncIterator[bytes] | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class RequestContext:
    request_id: str
    endpoint: str  # "chat.completions" | "embeddings"
    config: RuntimeConfig
    ts: float  # wall clock at arrival
    started: float  # monotonic clock at arrival
    raw_body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    identity: Identity | None = None
    body: Json | None = None
    requested: Route | None = None
    """The route the request's ``model`` names, looked up once when the body is validated."""
    route: Route | None = None
    deployment: Deployment | None = None
    stream: bool = False
    client_wants_usage: bool = False
    upstream_s: float = 0.0  # time spent waiting on upstreams; excluded from Keel's overhead
    ttft_s: float | None = None
    usage: Json | None = None
    cache: str | None = None  # "hit", "miss" or "bypass" on a route with the exact cache
    stream_chunks: list[Json] | None = None  # collected by the relay when a stream is to be cached
    completion_chars: int = 0  # streamed answer text, for a cost estimate when no usage arrives
    cost_usd: float | None = None
    cost_estimated: bool = False
    prior_cost_nanos: int = 0
    """What lower tiers' discarded answers cost (a tiered route that escalated); part of ``cost_usd``."""
    pool: tuple[str, ...] | None = None
    """Deployments to plan over instead of the route's pool: the tier serving the request, or a rollout's
    candidate."""
    rollout_id: str | None = None
    rollout_side: str | None = None
    """``live`` or ``candidate`` while the route has a canary rollout."""
    tier: int | None = None
    """On a tiered route, the index of the tier serving the request (cheapest first)."""
    escalation: str | None = None
    """Why a lower tier's answer was not served, e.g. ``cheap: refusal``."""
    confidence: float | None = None
    """On a route with ``confidence``: the answer's score, the lowest of its signals (None when unknown)."""
    guard_state: GuardState | None = None
    """Shared by the route's guards for this request (PII placeholders to restore); never logged."""
    guard_verdicts: list[Json] = field(default_factory=list)
    model: str | None = None  # the model that answered, as the upstream named it
    plan: list[PlanStep] = field(default_factory=list)
    """The deployments to try, in order, with why each is there; made by the route choice."""
    safe_mode: str | None = None
    """Set when the answer must come from the route's safe-mode path, with the reason."""
    attempts: list[AttemptRecord] = field(default_factory=list)
    status: int = 0
    error_class: str | None = None
    error_code: str | None = None
    response_body: Json | None = None
