"""An alert rule: a signal over a window, a threshold, and how long it must hold before anyone is told.

::

    alerts:
      webhooks: ["https://hooks.example.com/keel"]          # plain JSON
      slack_webhooks: ["https://hooks.slack.com/services/..."]
      evaluate_every_s: 30
      rules:
        - {name: support-errors, signal: error_rate, route: support-bot, window_s: 300, above: 0.05, for_s: 120}
        - {name: support-satisfaction, signal: feedback_score, route: support-bot, window_s: 86400, below: 0.7}
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from keel.config.base import StrictModel

Signal = Literal[
    "error_rate",
    "p99_latency_ms",
    "requests",
    "cost_usd",
    "guard_blocks",
    "safe_mode_rate",
    "feedback_score",
]


class AlertRule(StrictModel):
    name: str = Field(min_length=1, max_length=128, pattern=r"^[\w.:-]+$")
    signal: Signal
    route: str | None = None
    """Only this route's requests; every request when absent."""
    window_s: float = Field(default=300.0, gt=0, le=30 * 86400)
    above: float | None = None
    below: float | None = None
    for_s: float = Field(default=0.0, ge=0)
    """The condition must hold this long before the alert fires (0: at the first evaluation)."""
    min_samples: int = Field(default=20, ge=1)
    """Fewer requests (or feedback items) in the window is "no data": nothing fires and nothing resolves."""
    severity: Literal["critical", "warning", "info"] = "warning"

    @model_validator(mode="after")
    def _one_bound(self) -> AlertRule:
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of `above` and `below`")
        return self

    def breached(self, value: float) -> bool:
        return value > self.above if self.above is not None else value < self.below  # type: ignore[operator]

    def describe(self, value: float) -> str:
        where = f" on {self.route}" if self.route else ""
        bound = f"> {self.above:g}" if self.above is not None else f"< {self.below:g}"
        return f"{self.signal}{where} is {value:.4g} ({bound} over {self.window_s:g}s)"
