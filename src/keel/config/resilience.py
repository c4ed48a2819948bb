"""Config sections for resilience: timeouts, retries, circuit breakers, capacity, hedging, safe mode."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from keel.config.base import StrictModel


class Timeouts(StrictModel):
    """Per deployment; a route may override any of them. All in seconds."""

    connect_s: float = Field(default=10.0, gt=0)
    first_token_s: float = Field(default=120.0, gt=0)
    """Until a stream's first chunk. A whole (non-streamed) answer is bounded by ``total_s`` only: a
    long answer legitimately takes longer than a stream's first token."""
    idle_s: float = Field(default=60.0, gt=0)
    """Longest silence between two stream chunks."""
    total_s: float = Field(default=600.0, gt=0)


class TimeoutOverrides(StrictModel):
    connect_s: float | None = Field(default=None, gt=0)
    first_token_s: float | None = Field(default=None, gt=0)
    idle_s: float | None = Field(default=None, gt=0)
    total_s: float | None = Field(default=None, gt=0)


class CircuitConfig(StrictModel):
    """When a deployment stops getting traffic, and how it gets it back.

    Opens after ``consecutive_failures`` failures in a row, or when at least ``min_requests`` calls in
    the last ``window_s`` failed at a rate of ``error_rate`` or more. After ``cooldown_s`` it lets
    ``half_open_probes`` calls through; a success closes it, a failure opens it again.
    """

    consecutive_failures: int = Field(default=5, ge=1)
    error_rate: float = Field(default=0.5, gt=0, le=1)
    window_s: float = Field(default=30.0, gt=0)
    min_requests: int = Field(default=20, ge=1)
    cooldown_s: float = Field(default=30.0, gt=0)
    half_open_probes: int = Field(default=1, ge=1)


class RetryConfig(StrictModel):
    """Extra attempts after a retryable failure, on the same or the next deployment."""

    max_attempts: int = Field(default=3, ge=1, le=20)
    """Attempts per request in all, the first included."""
    backoff_base_s: float = Field(default=0.05, ge=0)
    backoff_max_s: float = Field(default=2.0, ge=0)
    """Full jitter: a wait drawn uniformly from [0, min(max, base * 2^retry)]."""
    max_retry_after_s: float = Field(default=5.0, ge=0)
    """A Retry-After longer than this moves on to the next deployment instead of waiting."""
    budget_ratio: float = Field(default=0.2, ge=0, le=10)
    """Extra attempts may be at most this share of requests (plus ``budget_min_per_s``)."""
    budget_min_per_s: float = Field(default=5.0, ge=0)


class Capacity(StrictModel):
    """Provisioned capacity: while it lasts, this deployment is preferred; beyond it, traffic spills over."""

    rpm: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1)
    concurrency: int | None = Field(default=None, ge=1)


class StickyConfig(StrictModel):
    """Keep a user on one deployment: the key comes from a header or from the request's ``user``."""

    header: str | None = None
    field: Literal["user"] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> StickyConfig:
        if (self.header is None) == (self.field is None):
            raise ValueError("give exactly one of 'header' or 'field'")
        return self


class HedgeConfig(StrictModel):
    """Send a second attempt to another deployment if the first has not answered after ``after_ms``
    (or after the first deployment's observed latency quantile); the first answer wins."""

    after_ms: float | None = Field(default=None, gt=0)
    after_quantile: float | None = Field(default=None, gt=0, lt=1)
    min_samples: int = Field(default=50, ge=1)
    """Below this many latency samples, ``after_quantile`` falls back to ``after_ms`` (or no hedge)."""

    @model_validator(mode="after")
    def _some_delay(self) -> HedgeConfig:
        if self.after_ms is None and self.after_quantile is None:
            raise ValueError("give 'after_ms', 'after_quantile', or both")
        return self


class SafeModeConfig(StrictModel):
    """The route's degraded path: a deployment (a cheaper model, the FAQ) or a static message."""

    deployment: str | None = None
    message: str | None = None

    @model_validator(mode="after")
    def _one_path(self) -> SafeModeConfig:
        if (self.deployment is None) == (self.message is None):
            raise ValueError("give exactly one of 'deployment' or 'message'")
        return self


class SheddingConfig(StrictModel):
    """Per-process admission: beyond these, a fast 503 with Retry-After instead of a pile-up."""

    max_in_flight: int = Field(default=2048, ge=1)
    max_queued: int = Field(default=0, ge=0)
    """Requests that may wait for a free slot; 0 refuses at once when all slots are busy."""
    queue_timeout_s: float = Field(default=1.0, gt=0)
    retry_after_s: int = Field(default=1, ge=1)


Strategy = Literal["priority", "weighted", "least_busy", "latency"]
