"""The drift monitor's settings: sketch sizes, the decision rule's thresholds and the minimum samples."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

EMBEDDING_TESTS = ("mmd", "classifier")


@dataclass(frozen=True, slots=True)
class DriftConfig:
    """Defaults are the documented rule: drift when p < 0.001 and PSI >= 0.1, with at least 1,000
    samples in each window (200 embeddings for the embedding and topic tests)."""

    bins: int = 20  # quantile bins per numeric feature, plus two open tail bins
    accuracy: float = 0.01  # relative accuracy of the baseline's quantile sketch (its bucket width)
    max_categories: int = 50  # categories counted one by one per feature; the rest are __other__
    max_features: int = 64  # features tracked per route and window; later new ones are ignored
    reservoir_size: int = 512  # embeddings kept per window
    topics: int = 8  # topic clusters fitted on the baseline's embeddings (0: none)
    min_samples: int = 1000
    min_embedding_samples: int = 200
    p_threshold: float = 0.001
    psi_threshold: float = 0.1
    embedding_test: str = "mmd"
    permutations: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.embedding_test not in EMBEDDING_TESTS:
            raise ValueError(f"embedding_test must be one of {', '.join(EMBEDDING_TESTS)}")
        if not 0.0 < self.p_threshold < 1.0:
            raise ValueError("p_threshold must be between 0 and 1")
        if 1.0 / (self.permutations + 1) >= self.p_threshold:
            raise ValueError(
                f"{self.permutations} permutations cannot give a p-value below {self.p_threshold}; "
                f"use at least {int(1.0 / self.p_threshold)}"
            )
        for name in ("bins", "max_categories", "max_features", "reservoir_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.min_samples < 1 or self.min_embedding_samples < 2 or self.topics < 0:
            raise ValueError("min_samples must be >= 1, min_embedding_samples >= 2 and topics >= 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> DriftConfig:
        return cls(**state)
