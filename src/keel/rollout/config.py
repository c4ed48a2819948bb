"""How a route declares a canary rollout: the candidate, the traffic steps and the checks that gate them.

Analysis is data, not code: each check names a metric and a range, either in the metric's own unit
(``absolute``) or as the candidate's value divided by the live one's (``relative_to_live``). A check
with fewer than ``min_samples`` observations has no data, and no data never counts as a pass.
"""

from __future__ import annotations

import itertools
import math
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from keel.config.base import StrictModel

Metric = Literal[
    "error_rate",
    "p99_latency_ms",
    "cost_per_request_usd",
    "validator_failure_rate",
    "feedback_score",
    "canary_pass_rate",
]
Compare = Literal["absolute", "relative_to_live"]

SESSION_HEADER = "x-session-id"
"""The header ``sticky: session`` reads."""

# An HTTP header name (RFC 9110 token), after the ``header:`` prefix.
_STICKY = re.compile(r"^(user|session|none|header:[A-Za-z0-9!#$%&'*+.^_`|~-]+)$")


class MetricCheck(StrictModel):
    """One gate: ``metric`` must lie within [``min``, ``max``] (either bound may be left open)."""

    metric: Metric
    min: float | None = None
    max: float | None = None
    compare: Compare = "absolute"
    """``relative_to_live``: the bounds apply to candidate / live (``max: 1.2`` is "at most 20% worse")."""
    min_samples: int = Field(default=50, ge=1)
    """Observations each compared side needs before the check can pass or fail."""

    @model_validator(mode="after")
    def _bounds(self) -> MetricCheck:
        if self.min is None and self.max is None:
            raise ValueError("give 'min', 'max' or both")
        if any(bound is not None and not math.isfinite(bound) for bound in (self.min, self.max)):
            raise ValueError("bounds must be finite numbers")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"'min' ({self.min}) is above 'max' ({self.max})")
        if self.compare == "relative_to_live" and any(b is not None and b < 0 for b in (self.min, self.max)):
            raise ValueError("a relative_to_live bound is a ratio and cannot be negative")
        return self


class RolloutConfig(StrictModel):
    """A route's canary rollout of ``candidate`` beside the deployments it serves today."""

    candidate: str = Field(min_length=1)
    """The deployment being rolled out."""
    steps: tuple[float, ...] = (1.0, 5.0, 25.0, 50.0, 100.0)
    """Percent of the route's traffic sent to the candidate at each step; increasing, ending at 100."""
    step_interval_s: float = Field(default=300.0, ge=0)
    """The least time spent at each step before the next one (analyses must pass as well)."""
    sticky: str = "user"
    """What keeps a caller on one side: ``user`` (the request's ``user`` field), ``session`` (the
    ``x-session-id`` header), ``header:<name>``, or ``none`` (each request is drawn on its own)."""
    checks: tuple[MetricCheck, ...] = Field(min_length=1)
    max_failed_checks: int = Field(default=3, ge=1)
    """Failed analyses in a row that roll the candidate back."""
    analysis_interval_s: float = Field(default=60.0, gt=0)
    """Time between analyses; each analysis reads the traffic of the interval before it."""

    @field_validator("steps")
    @classmethod
    def _increasing_to_100(cls, steps: tuple[float, ...]) -> tuple[float, ...]:
        if not steps:
            raise ValueError("give at least one step")
        for step in steps:
            if not 0 < step <= 100:
                raise ValueError(f"step {step} is not a percentage in (0, 100]")
            if not math.isclose(step * 100, round(step * 100), abs_tol=1e-9):
                raise ValueError(f"step {step} is finer than the 0.01% assignment resolution")
        if any(later <= earlier for earlier, later in itertools.pairwise(steps)):
            raise ValueError("steps must increase")
        if steps[-1] != 100:
            raise ValueError("the last step must be 100")
        return steps

    @field_validator("sticky")
    @classmethod
    def _known_sticky(cls, sticky: str) -> str:
        if not _STICKY.match(sticky):
            raise ValueError(f"sticky {sticky!r} is not one of user, session, none or header:<name>")
        return sticky

    @property
    def sticky_header(self) -> str | None:
        """The header (lower case) that carries the sticky key; None for ``user`` and ``none``."""
        if self.sticky == "session":
            return SESSION_HEADER
        if self.sticky.startswith("header:"):
            return self.sticky.removeprefix("header:").lower()
        return None
