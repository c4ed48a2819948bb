"""The records Keel keeps. Plain data; the stores decide how they are laid out."""

from __future__ import annotations

import operator
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(slots=True)
class AttemptRecord:
    """One call to one deployment while serving a request."""

    deployment: str
    provider: str
    status: int
    error_class: str | None = None
    latency_ms: float = 0.0
    kind: str = "primary"
    """primary, retry (same deployment again), failover (the next one), hedge, fallback
    (context-window or content-policy), spillover (past a full provisioned deployment), safe_mode,
    agreement (the same request asked again to score the answer's confidence)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "deployment": self.deployment,
            "provider": self.provider,
            "status": self.status,
            "error_class": self.error_class,
            "latency_ms": round(self.latency_ms, 3),
            "kind": self.kind,
        }


@dataclass(slots=True)
class RequestRecord:
    """One served request, as written to the request log.

    ``cost_usd``, ``guard_verdicts`` and the body fields are filled by later stages when configured;
    bodies are present only when the route opts in (``log_bodies: true``).
    """

    request_id: str
    ts: float  # seconds since the epoch, when the request arrived
    endpoint: str  # "chat.completions", "embeddings"
    status: int
    config_hash: str
    key_id: str | None = None
    team: str | None = None
    feature: str | None = None
    route: str | None = None
    deployment: str | None = None
    provider: str | None = None
    model: str | None = None  # the upstream model that answered
    stream: bool = False
    error_class: str | None = None
    error_code: str | None = None
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    overhead_ms: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    cost_usd: float | None = None
    guard_verdicts: list[dict[str, Any]] | None = None
    attempts: list[AttemptRecord] = field(default_factory=list)
    request_body: dict[str, Any] | None = None
    response_body: dict[str, Any] | None = None
    safe_mode: str | None = None
    """Why the answer came from the route's safe-mode path (``None`` for a normal answer)."""
    cache: str | None = None
    """``hit``, ``miss`` or ``bypass`` on a route with the exact cache."""
    cost_estimated: bool = False
    """True when ``cost_usd`` comes from estimated token counts (the upstream reported no usage)."""
    tier: str | None = None
    """On a tiered route, the name of the tier whose answer was served."""
    escalation: str | None = None
    """On a tiered route, why a lower tier's answer was not served (``None`` when it was not escalated)."""
    rollout_id: str | None = None
    rollout_side: str | None = None
    """``live`` or ``candidate``: which side of the route's canary rollout the request was assigned to."""
    confidence: float | None = None
    """On a route with ``confidence``: the answer's score in [0, 1] (``None`` when unknown or not scored)."""
    traceparent: str | None = None
    """The caller's W3C ``traceparent`` when it sent a valid one: the trace this request's spans join."""


# The JSON form below is shared by the disk spool and the SQL stores, so a record reads back the same
# whichever way it travelled. Readers ignore keys they do not know and default the ones that are
# missing: a spool written by another Keel version still replays.


def attempt_from_json(data: dict[str, Any]) -> AttemptRecord:
    return AttemptRecord(
        deployment=data["deployment"],
        provider=data["provider"],
        status=data["status"],
        error_class=data.get("error_class"),
        latency_ms=data.get("latency_ms", 0.0),
        kind=data.get("kind", "primary"),
    )


_REQUEST_FIELD_NAMES = tuple(f.name for f in fields(RequestRecord))
_REQUEST_FIELDS = frozenset(_REQUEST_FIELD_NAMES)
# Called for every logged request: one C-level attrgetter beats a getattr per field.
_request_values = operator.attrgetter(*_REQUEST_FIELD_NAMES)


def record_to_dict(record: RequestRecord) -> dict[str, Any]:
    """A JSON-ready dict of every field; attempts become plain dicts."""
    data = dict(zip(_REQUEST_FIELD_NAMES, _request_values(record), strict=True))
    data["attempts"] = [attempt.to_json() for attempt in record.attempts]
    return data


def record_from_dict(data: dict[str, Any]) -> RequestRecord:
    """The inverse of ``record_to_dict``."""
    known = {name: value for name, value in data.items() if name in _REQUEST_FIELDS}
    known["attempts"] = [attempt_from_json(a) for a in data.get("attempts") or ()]
    return RequestRecord(**known)
