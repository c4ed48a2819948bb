"""The rollout phase machine: pure transitions from one ``RolloutState`` to the next.

Nothing here reads a clock, a database or a random source: the time of each transition is passed in,
so a rollout can be replayed, simulated and tested exactly. Phases::

    pending ──first analysis──▶ progressing ──pass, interval elapsed──▶ next step … ──at 100%──▶ promoted
                                   │  ▲   │
                         no data   │  │   └─ max_failed_checks fails in a row ──▶ rolled_back
                                   ▼  │ pass
                                  halted
    pending / progressing / halted ──pause──▶ paused ──resume──▶ progressing (pending at 0%)
    any phase not final ──abort──▶ aborted

``promoted``, ``rolled_back`` and ``aborted`` are final. Every transition appends one or more
events to the history; an analysis that changes nothing returns the very same state object.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Any, Literal

from keel.rollout.analysis import AnalysisResult
from keel.rollout.config import RolloutConfig

Phase = Literal["pending", "progressing", "paused", "promoted", "rolled_back", "aborted", "halted"]
TERMINAL: frozenset[Phase] = frozenset({"promoted", "rolled_back", "aborted"})


class RolloutError(Exception):
    """A transition the rollout's phase does not allow (or a rollout that cannot be started)."""


@dataclass(frozen=True, slots=True)
class RolloutEvent:
    ts: float
    kind: str
    """created, step, check_failed, checks_passed, halted, resumed, paused, promoted, rolled_back, aborted"""
    detail: str


@dataclass(frozen=True, slots=True)
class RolloutState:
    rollout_id: str
    route: str
    live: str
    candidate: str
    phase: Phase
    step_index: int
    """Index into the config's steps of the current step (pending: of the first one)."""
    weight: float
    """Percent of the route's traffic sent to the candidate now."""
    step_started_at: float
    """When the current weight took effect."""
    failed_checks: int
    """Failed analyses in a row; a pass resets it, an analysis without data leaves it alone."""
    history: tuple[RolloutEvent, ...]

    @property
    def terminal(self) -> bool:
        return self.phase in TERMINAL

    @property
    def version(self) -> int:
        """Grows with every transition: how a store tells a newer state from a stale one."""
        return len(self.history)

    @property
    def started_at(self) -> float:
        return self.history[0].ts


def start(
    config: RolloutConfig, route: str, live: str, candidate: str, now: float, *, rollout_id: str | None = None
) -> RolloutState:
    """A new rollout, pending: no traffic moves until the first analysis enters the first step.

    Without ``rollout_id`` one is derived from the route, candidate and time (the same inputs give the
    same id, keeping this function pure).
    """
    if candidate != config.candidate:
        raise RolloutError(f"route {route!r} is configured to roll out {config.candidate!r}, not {candidate!r}")
    if candidate == live:
        raise RolloutError(f"{candidate!r} is already the live deployment of route {route!r}")
    if rollout_id is None:
        digest = hashlib.blake2b(f"{route}\0{candidate}\0{now!r}".encode(), digest_size=8)
        rollout_id = f"ro_{digest.hexdigest()}"
    steps = ", ".join(f"{_pct(s)}%" for s in config.steps)
    created = RolloutEvent(
        now, "created", f"rollout of {candidate} on route {route} created; live is {live}; steps {steps}"
    )
    return RolloutState(
        rollout_id=rollout_id,
        route=route,
        live=live,
        candidate=candidate,
        phase="pending",
        step_index=0,
        weight=0.0,
        step_started_at=now,
        failed_checks=0,
        history=(created,),
    )


def on_analysis(state: RolloutState, config: RolloutConfig, result: AnalysisResult, now: float) -> RolloutState:
    """Apply one analysis.

    Raises ``RolloutError`` on a final phase, or when ``config`` names another candidate.

    - pending: enter the first step (the candidate has had no traffic to judge yet);
    - paused: nothing changes;
    - fail: one more failed analysis; at ``max_failed_checks`` in a row, roll back (weight 0);
    - no data: halt at the current weight; a halted rollout never advances until data passes;
    - pass: reset the failure count, resume if halted, and once ``step_interval_s`` has passed at
      this weight, enter the next step, or at 100% promote.
    """
    _refuse_if_terminal(state, "analyse")
    if config.candidate != state.candidate:
        # The route's config was edited to roll out something else: this rollout's steps and checks
        # no longer describe it. The loop should abort it and start the new one.
        raise RolloutError(
            f"rollout {state.rollout_id} is of {state.candidate!r} but route {state.route!r} "
            f"now rolls out {config.candidate!r}"
        )
    if state.phase == "paused":
        return state
    if state.phase == "pending":
        return _enter_step(state, config, 0, now)
    if result.verdict == "fail":
        return _failed(state, config, result, now)
    if result.verdict == "no_data":
        if state.phase == "halted":
            return state
        missing = "; ".join(f"{c.check.metric}: {c.detail}" for c in result.with_outcome("no_data"))
        detail = f"halted at {_pct(state.weight)}%: not enough data: {missing}"
        return _append(state, now, "halted", detail, phase="halted")
    return _passed(state, config, now)


def pause(state: RolloutState, now: float, reason: str = "") -> RolloutState:
    """Freeze the rollout at its current weight: analyses are ignored until ``resume``."""
    _refuse_if_terminal(state, "pause")
    if state.phase == "paused":
        raise RolloutError(f"rollout {state.rollout_id} is already paused")
    return _append(state, now, "paused", f"paused at {_pct(state.weight)}%{_because(reason)}", phase="paused")


def resume(state: RolloutState, now: float) -> RolloutState:
    """Let a paused rollout go on; the next analysis decides whether it advances, halts or fails."""
    _refuse_if_terminal(state, "resume")
    if state.phase != "paused":
        raise RolloutError(f"rollout {state.rollout_id} is {state.phase}, not paused")
    phase: Phase = "pending" if state.weight == 0 else "progressing"
    return _append(state, now, "resumed", f"resumed at {_pct(state.weight)}%", phase=phase)


def abort(state: RolloutState, now: float, reason: str = "") -> RolloutState:
    """Stop the rollout for good and send all traffic back to the live deployment."""
    _refuse_if_terminal(state, "abort")
    detail = f"aborted at {_pct(state.weight)}%{_because(reason)}; all traffic to live {state.live}"
    return _append(state, now, "aborted", detail, phase="aborted", weight=0.0)


def _passed(state: RolloutState, config: RolloutConfig, now: float) -> RolloutState:
    was_failing = f"; failed-check count reset (was {state.failed_checks})" if state.failed_checks else ""
    if state.phase == "halted":
        detail = f"resumed at {_pct(state.weight)}%: data arrived and all checks pass{was_failing}"
        state = _append(state, now, "resumed", detail, phase="progressing", failed_checks=0)
    elif state.failed_checks:
        state = _append(state, now, "checks_passed", f"all checks pass{was_failing}", failed_checks=0)
    if now - state.step_started_at < config.step_interval_s:
        return state
    if state.weight >= 100:
        detail = f"promoted: {state.candidate} serves all traffic of route {state.route}"
        return _append(state, now, "promoted", detail, phase="promoted")
    # The first step above the current weight, so a config edited mid-rollout still moves forward.
    following = next(i for i, step in enumerate(config.steps) if step > state.weight)
    return _enter_step(state, config, following, now)


def _failed(state: RolloutState, config: RolloutConfig, result: AnalysisResult, now: float) -> RolloutState:
    failed = state.failed_checks + 1
    reasons = "; ".join(f"check {c.check.metric} failed: {c.detail}" for c in result.with_outcome("failed"))
    detail = f"{reasons} ({failed} of {config.max_failed_checks})"
    state = _append(state, now, "check_failed", detail, phase="progressing", failed_checks=failed)
    if failed < config.max_failed_checks:
        return state
    detail = (
        f"rolled back at {_pct(state.weight)}% after {failed} failed analyses in a row; "
        f"all traffic to live {state.live}"
    )
    return _append(state, now, "rolled_back", detail, phase="rolled_back", weight=0.0)


def _enter_step(state: RolloutState, config: RolloutConfig, index: int, now: float) -> RolloutState:
    weight = config.steps[index]
    detail = f"step {index + 1} of {len(config.steps)}: {_pct(weight)}% of traffic"
    return _append(
        state, now, "step", detail, phase="progressing", step_index=index, weight=weight, step_started_at=now
    )


def _append(state: RolloutState, now: float, kind: str, detail: str, **changes: Any) -> RolloutState:
    return replace(state, history=(*state.history, RolloutEvent(now, kind, detail)), **changes)


def _refuse_if_terminal(state: RolloutState, action: str) -> None:
    if state.terminal:
        raise RolloutError(f"cannot {action} rollout {state.rollout_id}: it is {state.phase.replace('_', ' ')}")


def _because(reason: str) -> str:
    return f": {reason}" if reason else ""


def _pct(weight: float) -> str:
    return f"{weight:g}"
