"""How a route declares answer confidence: which signals count, the threshold, and what happens below it."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field, field_validator

from keel.config.base import StrictModel

Signal = Literal["validators", "faq", "logprobs", "agreement", "refusal"]
SIGNALS: tuple[Signal, ...] = get_args(Signal)
Below = Literal["fallback", "review", "fallback_and_review"]


class ConfidenceConfig(StrictModel):
    """Score every answer of the route; an answer scoring below ``threshold`` is handled as ``below`` says."""

    signals: tuple[Signal, ...] = ("validators", "faq", "logprobs", "refusal")
    """The signals combined into the score. ``agreement`` asks the answering deployment again, so it
    costs one more call per sample and is off unless listed."""
    threshold: float = Field(default=0.5, ge=0, le=1)
    below: Below = "review"
    """``fallback``: answer from the route's safe mode instead; ``review``: serve the answer and queue it
    for a person; ``fallback_and_review``: both."""
    agreement_samples: int = Field(default=2, ge=2, le=5)
    """Answers compared by ``agreement``: the served one and ``agreement_samples - 1`` asked again."""
    review_sample: float = Field(default=0.0, ge=0, le=1)
    """Share of confident answers also queued, as spot checks (drawn from a hash of the request id)."""

    @field_validator("signals")
    @classmethod
    def _distinct(cls, signals: tuple[Signal, ...]) -> tuple[Signal, ...]:
        if not signals:
            raise ValueError("list at least one signal")
        if len(set(signals)) != len(signals):
            raise ValueError("each signal may be listed once")
        return signals

    @property
    def falls_back(self) -> bool:
        return self.below in ("fallback", "fallback_and_review")

    @property
    def reviews(self) -> bool:
        return self.below in ("review", "fallback_and_review")
