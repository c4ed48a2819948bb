"""The circuit breaker against a reference model, over random sequences of calls, results and time."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from keel.config.resilience import CircuitConfig
from keel.routing.circuit import WINDOW_BUCKETS, CircuitState, allow, record, release_probe, window_counts


@dataclass
class Model:
    """The rules written as plainly as possible: every result kept with its time, nothing aggregated."""

    config: CircuitConfig
    phase: str = "closed"
    streak: int = 0
    results: list[tuple[float, bool]] = field(default_factory=list)
    opened_at: float = 0.0
    probes: int = 0

    def window(self, now: float) -> list[bool]:
        width = self.config.window_s / WINDOW_BUCKETS
        current = math.floor(now / width)
        return [ok for t, ok in self.results if math.floor(t / width) > current - WINDOW_BUCKETS]

    def allow(self, now: float) -> bool:
        if self.phase == "closed":
            return True
        if self.phase == "open":
            if now - self.opened_at < self.config.cooldown_s:
                return False
            self.phase, self.probes = "half_open", 0
        if self.probes < self.config.half_open_probes:
            self.probes += 1
            return True
        return False

    def record(self, ok: bool, now: float) -> bool:
        """Applies a result; True when it made a closed circuit open."""
        if self.phase == "open":
            return False
        if self.phase == "half_open":
            if ok:
                self.phase, self.probes = "closed", 0
            else:
                self.open(now)
            return False
        self.results.append((now, ok))
        self.streak = 0 if ok else self.streak + 1
        live = self.window(now)
        by_rate = len(live) >= self.config.min_requests and live.count(False) / len(live) >= self.config.error_rate
        if self.streak >= self.config.consecutive_failures or by_rate:
            self.open(now)
            return True
        return False

    def open(self, now: float) -> None:
        self.phase, self.opened_at, self.streak, self.results, self.probes = "open", now, 0, [], 0

    def release(self) -> None:
        if self.phase == "half_open" and self.probes > 0:
            self.probes -= 1


configs = st.builds(
    CircuitConfig,
    consecutive_failures=st.integers(min_value=1, max_value=6),
    error_rate=st.sampled_from([0.2, 0.5, 0.75, 1.0]),
    window_s=st.sampled_from([1.0, 4.0, 10.0]),
    min_requests=st.integers(min_value=1, max_value=8),
    cooldown_s=st.sampled_from([0.5, 3.0, 10.0]),
    half_open_probes=st.integers(min_value=1, max_value=3),
)
steps = st.lists(
    st.tuples(
        st.sampled_from(["allow", "ok", "fail", "release"]),
        # Exact binary fractions land on cooldown and bucket boundaries; arbitrary floats fall between them.
        st.sampled_from([0.0, 0.25, 0.5, 1.0, 3.0]) | st.floats(min_value=0, max_value=6),
    ),
    max_size=80,
)


@settings(max_examples=300)
@given(configs, steps)
def test_the_breaker_follows_the_rules(config: CircuitConfig, ops: list[tuple[str, float]]) -> None:
    state, model, now = CircuitState(), Model(config), 1000.0
    for kind, dt in ops:
        now += dt
        before = state
        if kind == "allow":
            admitted, state = allow(state, config, now)
            assert admitted == model.allow(now)
            if before.phase == "open" and before.opened_at is not None and now - before.opened_at < config.cooldown_s:
                assert not admitted, "admitted while open before the cooldown"
            if before.phase == "closed":
                assert admitted and state == before
        elif kind == "release":
            state = release_probe(state)
            model.release()
        else:
            state = record(state, config, kind == "ok", now)
            fired = model.record(kind == "ok", now)
            if before.phase == "closed":
                assert (state.phase == "open") == fired, "closed to open without a rule firing, or the reverse"
            if before.phase == "open":
                assert state == before
            if state.phase == "open" and before.phase != "open":
                assert state.opened_at == now
        assert state.phase == model.phase
        assert state.probes_in_flight == model.probes <= config.half_open_probes
        assert state.consecutive_failures == model.streak
        live = model.window(now)
        assert window_counts(state, config, now) == (len(live), live.count(False))
        assert len(state.buckets) <= WINDOW_BUCKETS
