"""Whole rollouts driven by synthetic traffic: callers are assigned by the sticky hash, each interval's
requests become observations, and the analysis windows, checks and phase machine decide what happens."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from keel.rollout.analysis import AnalysisResult, Observation, Side, WindowStats, analyse, windows
from keel.rollout.assign import assign
from keel.rollout.config import RolloutConfig
from keel.rollout.machine import RolloutState, on_analysis, start
from tests.rollout.factories import T0, make_config

# (side, candidate weight, how many requests, rng) -> (ok flags, latencies in ms)
Behaviour = Callable[[Side, float, int, np.random.Generator], tuple[np.ndarray, np.ndarray]]

CONFIG = make_config(step_interval_s=300, analysis_interval_s=60, max_failed_checks=3)
INTERVAL = CONFIG.analysis_interval_s


def healthy(
    n: int, rng: np.random.Generator, median_ms: float = 200.0, error_rate: float = 0.01
) -> tuple[np.ndarray, np.ndarray]:
    return rng.random(n) >= error_rate, rng.lognormal(0, 0.2, n) * median_ms


def live_like(side: Side, weight: float, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    return healthy(n, rng)


def better(side: Side, weight: float, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    return healthy(n, rng, 150.0, 0.005) if side == "candidate" else healthy(n, rng)


def overloaded_from_25(side: Side, weight: float, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Fine while the candidate gets little traffic; slow and failing once it takes a quarter."""
    if side == "candidate" and weight >= 25:
        return healthy(n, rng, 900.0, 0.15)
    return healthy(n, rng)


def twice_as_slow(side: Side, weight: float, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    return healthy(n, rng, 400.0) if side == "candidate" else healthy(n, rng)


@dataclass
class Run:
    state: RolloutState
    results: list[AnalysisResult] = field(default_factory=list)

    def kinds(self, kind: str) -> list[tuple[float, str]]:
        return [(e.ts, e.detail) for e in self.state.history if e.kind == kind]

    def entered(self) -> list[float]:
        return [float(detail.split(": ")[1].removesuffix("% of traffic")) for _, detail in self.kinds("step")]


def simulate(
    behaviour: Behaviour,
    config: RolloutConfig = CONFIG,
    requests: Callable[[int], int] = lambda _: 6000,
    max_analyses: int = 60,
) -> Run:
    """Drive a rollout until it ends or ``max_analyses`` have run. Traffic in each interval follows the
    weight at its start; each analysis reads the spans ``windows`` names, as the analysis loop would."""
    rng = np.random.default_rng(20240301)
    run = Run(start(config, "support-bot", "gpt-4o", "gpt-4o-mini", T0))
    traffic: dict[float, list[Observation]] = {}  # by the start of the interval that produced them
    now = T0
    for n in range(max_analyses):
        users = rng.integers(20_000, size=requests(n))
        sides = [assign(run.state, f"user-{user}", f"req-{n}-{i}") for i, user in enumerate(users)]
        batch = []
        for side in ("live", "candidate"):
            count = sides.count(side)
            oks, latencies = behaviour(side, run.state.weight, count, rng)
            batch += [Observation(side, bool(ok), float(ms)) for ok, ms in zip(oks, latencies, strict=True)]
        traffic[now] = batch
        now += INTERVAL
        live_span, candidate_span = windows(config, run.state, now)
        live, candidate = WindowStats(), WindowStats()
        for begun, observations in traffic.items():
            for side, stats, span in (("live", live, live_span), ("candidate", candidate, candidate_span)):
                if span.start <= begun and begun + INTERVAL <= span.end:
                    for obs in observations:
                        if obs.side == side:
                            stats.add(obs)
        run.results.append(analyse(config, live, candidate))
        run.state = on_analysis(run.state, config, run.results[-1], now)
        if run.state.terminal:
            break
    return run


def test_a_better_candidate_is_promoted_after_the_last_step() -> None:
    run = simulate(better)
    assert run.state.phase == "promoted"
    assert run.entered() == [1, 5, 25, 50, 100]
    assert not run.kinds("check_failed") and not run.kinds("halted")
    # Entered at the first analysis, then five analyses (300 s) at each of the five steps.
    assert len(run.results) == 1 + 5 * 5
    assert run.state.history[-1].ts == T0 + INTERVAL + 5 * CONFIG.step_interval_s


def test_a_candidate_worse_under_load_is_rolled_back_at_25_after_exactly_three_failed_analyses() -> None:
    run = simulate(overloaded_from_25)
    assert (run.state.phase, run.state.weight) == ("rolled_back", 0)
    assert run.entered() == [1, 5, 25]
    entered_25 = run.kinds("step")[-1][0]
    failures = run.kinds("check_failed")
    assert [ts for ts, _ in failures] == [entered_25 + INTERVAL * k for k in (1, 2, 3)]
    for k, (_, detail) in enumerate(failures, start=1):
        assert "check error_rate failed:" in detail and "check p99_latency_ms failed:" in detail
        assert detail.endswith(f"({k} of 3)")
    assert run.kinds("rolled_back") == [
        (entered_25 + 3 * INTERVAL, "rolled back at 25% after 3 failed analyses in a row; all traffic to live gpt-4o")
    ]
    assert [r.verdict for r in run.results[-3:]] == ["fail"] * 3
    assert all(r.verdict == "pass" for r in run.results[1:-3])


def test_without_enough_traffic_the_rollout_halts_and_is_never_promoted() -> None:
    run = simulate(better, requests=lambda _: 1000, max_analyses=120)  # ~10 candidate requests at 1%
    assert (run.state.phase, run.state.weight) == ("halted", 1)
    assert len(run.kinds("halted")) == 1 and len(run.results) == 120
    assert {r.verdict for r in run.results[1:]} == {"no_data"}


def test_a_halted_rollout_resumes_when_traffic_arrives_and_then_completes() -> None:
    run = simulate(better, requests=lambda n: 1000 if n < 10 else 6000)
    assert run.state.phase == "promoted"
    assert [kind for kind in (e.kind for e in run.state.history) if kind in ("halted", "resumed")] == [
        "halted",
        "resumed",
    ]
    assert run.entered() == [1, 5, 25, 50, 100]


def test_a_relative_check_keeps_its_live_baseline_at_100_percent() -> None:
    relative = make_config(
        checks=[
            {"metric": "error_rate", "max": 0.05, "min_samples": 30},
            {"metric": "p99_latency_ms", "max": 1.5, "compare": "relative_to_live", "min_samples": 30},
        ]
    )
    run = simulate(live_like, relative)
    assert run.state.phase == "promoted" and not run.kinds("halted")

    slow = simulate(twice_as_slow, relative)
    assert (slow.state.phase, slow.entered()) == ("rolled_back", [1])
    assert "x live" in slow.kinds("check_failed")[0][1]
