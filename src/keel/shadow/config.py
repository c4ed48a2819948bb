"""How a route declares shadow traffic: the candidate, the share mirrored, and the bounds on the extra work."""

from __future__ import annotations

from pydantic import Field

from keel.config.base import StrictModel


class CompareConfig(StrictModel):
    """How the candidate's answers are judged against the live ones."""

    similar_at: float = Field(default=0.8, ge=0, le=1)
    """Answers at least this similar (0..1) count as agreeing; reports give the share that do."""
    semantic: bool = False
    """Also compare the answers' embeddings (the gateway's embedder, as the semantic cache's); the cosine
    then becomes the headline similarity. Costs two embeddings per mirrored request."""


class ShadowConfig(StrictModel):
    """Mirror ``share`` of the route's answered requests to ``candidate``; the client never waits for it."""

    candidate: str = Field(min_length=1)
    """The deployment under test. It is called directly, without retries, failover or circuit breakers."""
    share: float = Field(gt=0, le=1)
    """Fraction of eligible requests mirrored, drawn from a hash of the request id (the same in every
    process). Every mirrored request is paid for twice, so there is no default."""
    max_in_flight: int = Field(default=16, ge=1, le=10_000)
    """Shadow calls running at once for this route (per process); a request beyond it is not mirrored."""
    timeout_s: float = Field(default=30.0, gt=0, le=600)
    """How long a shadow call may take before it is recorded as failed."""
    compare: CompareConfig = CompareConfig()
