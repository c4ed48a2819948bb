"""How a simulated model behaves: latency, speed, length and faults. Pure data."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from keel.config.base import StrictModel

FaultKind = Literal[
    "server_error",  # HTTP 500 with an OpenAI-shaped error body
    "overloaded",  # HTTP 503
    "rate_limit",  # HTTP 429 with Retry-After
    "connection_reset",  # the connection is closed without a response
    "stream_cut",  # a stream stops after `after_chunks` chunks without [DONE]
    "malformed_json",  # a 200 whose body is not JSON
    "hang",  # no response at all until the client gives up
    "stall",  # a stream goes silent after `after_chunks` chunks, connection open; other requests hang
    "content_filter",  # HTTP 400 content_policy_violation
    "context_length",  # HTTP 400 context_length_exceeded
]


class Latency(StrictModel):
    """A latency distribution in milliseconds.

    ``fixed``: always ``ms``. ``uniform``: ``ms ± spread_ms``. ``normal``: mean ``ms``, sd ``spread_ms``.
    ``lognormal``: median ``ms``, ``spread_ms`` is sigma of the underlying normal (unitless).
    Draws are clipped at 0.
    """

    distribution: Literal["fixed", "uniform", "normal", "lognormal"] = "fixed"
    ms: float = Field(default=0.0, ge=0)
    spread_ms: float = Field(default=0.0, ge=0)


class Fault(StrictModel):
    kind: FaultKind
    rate: float = Field(ge=0, le=1)
    retry_after_s: float = Field(default=1.0, ge=0)
    after_chunks: int = Field(default=2, ge=0)
    """Chunks a ``stream_cut`` or ``stall`` lets through before it hits."""


class SimulatedModel(StrictModel):
    """Behaviour of one simulated model name."""

    ttft: Latency = Latency()
    """Time before the first token (streams) or before generation starts (non-streams)."""
    tokens_per_s: float | None = Field(default=None, gt=0)
    """Generation speed after the first token; ``None`` is instantaneous."""
    output_tokens: int = Field(default=12, ge=1, le=100_000)
    reply: str | None = None
    """Fixed reply text; by default the reply is derived from the last user message."""
    embedding_dim: int = Field(default=16, ge=1, le=4096)
    context_window: int = Field(default=128_000, ge=1)
    faults: tuple[Fault, ...] = ()
