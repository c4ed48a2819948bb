"""The life of one alert, as a pure function of its last state, the signal's value and the time.

ok → pending (the condition holds) → firing (it held for ``for_s``; one notification) → ok (it no longer
holds; one resolve notification). "No data" changes nothing: it neither fires nor resolves an alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from keel.monitor.rules.config import AlertRule

Phase = Literal["ok", "pending", "firing"]


@dataclass(frozen=True, slots=True)
class RuleState:
    phase: Phase = "ok"
    since: float | None = None
    """When the condition started to hold (pending and firing)."""
    value: float | None = None

    def to_json(self) -> dict[str, object]:
        return {"phase": self.phase, "since": self.since, "value": self.value}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> RuleState:
        phase: Phase = "ok"
        if data.get("phase") == "pending":
            phase = "pending"
        elif data.get("phase") == "firing":
            phase = "firing"
        since, value = data.get("since"), data.get("value")
        return cls(
            phase,
            float(since) if isinstance(since, int | float) else None,
            float(value) if isinstance(value, int | float) else None,
        )


Event = Literal["fire", "resolve"]


def step(state: RuleState, rule: AlertRule, value: float | None, now: float) -> tuple[RuleState, Event | None]:
    if value is None:
        return state, None
    if rule.breached(value):
        since = state.since if state.phase != "ok" and state.since is not None else now
        if state.phase == "firing":
            return RuleState("firing", since, value), None
        if now - since >= rule.for_s:
            return RuleState("firing", since, value), "fire"
        return RuleState("pending", since, value), None
    if state.phase == "firing":
        return RuleState("ok", None, value), "resolve"
    return RuleState("ok", None, value), None
