"""A circuit breaker per deployment: a pure state machine over ``CircuitConfig``, and its in-process store.

closed: every call goes through; results feed a failure streak and a rolling window.
open: no call goes through until ``cooldown_s`` has passed since it opened.
half_open: up to ``half_open_probes`` calls at a time go through; the first result decides: a success
closes the circuit, a failure opens it again.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from keel.config.resilience import CircuitConfig
from keel.core.clock import Clock

Phase = Literal["closed", "open", "half_open"]

WINDOW_BUCKETS = 10
"""The rolling window is kept as this many buckets of ``window_s / WINDOW_BUCKETS`` each, so a result
stops counting between 0.9 and 1.0 ``window_s`` after it was recorded."""


@dataclass(frozen=True, slots=True)
class CircuitState:
    phase: Phase = "closed"
    consecutive_failures: int = 0
    buckets: tuple[tuple[int, int, int], ...] = ()
    """(bucket index, calls, failures), oldest first; bucket ``i`` covers ``[i * width, (i + 1) * width)``."""
    opened_at: float | None = None
    probes_in_flight: int = 0


def allow(state: CircuitState, config: CircuitConfig, now: float) -> tuple[bool, CircuitState]:
    """Whether a call may go to this deployment now, and the state that admitting it leaves."""
    if state.phase == "closed":
        return True, state
    if state.phase == "open":
        # An open state without a time cannot come from record(); treat it as cooled down rather than stuck.
        if state.opened_at is not None and now - state.opened_at < config.cooldown_s:
            return False, state
        return True, replace(state, phase="half_open", probes_in_flight=1)
    if state.probes_in_flight < config.half_open_probes:
        return True, replace(state, probes_in_flight=state.probes_in_flight + 1)
    return False, state


def record(state: CircuitState, config: CircuitConfig, ok: bool, now: float) -> CircuitState:
    """The state after a call ended with a success (``ok``) or a failure that counts against the deployment."""
    if state.phase == "open":
        # Calls admitted before it opened say nothing about whether the deployment has recovered.
        return state
    if state.phase == "half_open":
        return CircuitState() if ok else _opened(now)
    buckets = _add(state.buckets, _bucket_index(config, now), ok)
    streak = 0 if ok else state.consecutive_failures + 1
    if streak >= config.consecutive_failures or _rate_exceeded(buckets, config):
        return _opened(now)
    return CircuitState("closed", streak, buckets)  # every success passes here: no replace()


def release_probe(state: CircuitState) -> CircuitState:
    """A probe ended with neither a success nor a failure (it was cancelled): free its slot."""
    if state.phase == "half_open" and state.probes_in_flight > 0:
        return replace(state, probes_in_flight=state.probes_in_flight - 1)
    return state


def window_counts(state: CircuitState, config: CircuitConfig, now: float) -> tuple[int, int]:
    """(calls, failures) that still count in the rolling window at ``now``."""
    live = _prune(state.buckets, _bucket_index(config, now))
    return sum(b[1] for b in live), sum(b[2] for b in live)


def _opened(now: float) -> CircuitState:
    # Counters restart from zero: what happened before opening must not trip it again right after closing.
    return CircuitState(phase="open", opened_at=now)


def _bucket_index(config: CircuitConfig, now: float) -> int:
    return math.floor(now / (config.window_s / WINDOW_BUCKETS))


def _prune(buckets: tuple[tuple[int, int, int], ...], current: int) -> tuple[tuple[int, int, int], ...]:
    return tuple(b for b in buckets if b[0] > current - WINDOW_BUCKETS)


def _add(buckets: tuple[tuple[int, int, int], ...], current: int, ok: bool) -> tuple[tuple[int, int, int], ...]:
    live = list(_prune(buckets, current))
    failed = 0 if ok else 1
    for i, (index, calls, failures) in enumerate(live):
        if index == current:
            live[i] = (index, calls + 1, failures + failed)
            return tuple(live)
    # Sorting only matters if a caller's time went backwards; with a monotonic clock this appends.
    return tuple(sorted([*live, (current, 1, failed)]))


def _rate_exceeded(buckets: tuple[tuple[int, int, int], ...], config: CircuitConfig) -> bool:
    calls = sum(b[1] for b in buckets)
    failures = sum(b[2] for b in buckets)
    return calls >= config.min_requests and failures / calls >= config.error_rate


Transition = Callable[[str, Phase], None]


class CircuitBreakers:
    """The circuit states of this process's deployments, keyed by deployment name.

    Configs are looked up on every call so that a reloaded config takes effect at once. ``on_transition``
    hears every circuit that opens or closes here (not the ones adopted from other replicas).
    """

    def __init__(self, configs: Callable[[str], CircuitConfig], clock: Clock) -> None:
        self._configs = configs
        self._clock = clock
        self._states: dict[str, CircuitState] = {}
        self.on_transition: Transition | None = None

    def config(self, name: str) -> CircuitConfig:
        return self._configs(name)

    def allow(self, name: str) -> bool:
        admitted, self._states[name] = allow(self.state(name), self._configs(name), self._clock.monotonic())
        return admitted

    def record(self, name: str, ok: bool) -> None:
        before = self.state(name)
        after = record(before, self._configs(name), ok, self._clock.monotonic())
        self._states[name] = after
        if after.phase != before.phase and self.on_transition is not None and after.phase != "half_open":
            self.on_transition(name, after.phase)

    def adopt_open(self, name: str, opened_at: float) -> None:
        """Open a circuit another replica opened at ``opened_at`` (this clock's monotonic time)."""
        if self.state(name).phase == "closed":
            self._states[name] = _opened(opened_at)

    def adopt_closed(self, name: str) -> None:
        """Close a circuit because another replica's probe found the deployment healthy again."""
        if self.state(name).phase != "closed":
            self._states[name] = CircuitState()

    def release_probe(self, name: str) -> None:
        self._states[name] = release_probe(self.state(name))

    def state(self, name: str) -> CircuitState:
        return self._states.get(name, CircuitState())

    def phase(self, name: str) -> Phase:
        return self.state(name).phase

    def snapshot(self) -> dict[str, Phase]:
        return {name: state.phase for name, state in self._states.items()}
