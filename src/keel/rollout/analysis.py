"""Judging a candidate against the live deployment: per-side window statistics and the configured checks.

The analysis loop makes one ``Observation`` per request of the window (from the request log, with any
feedback and golden-canary verdict joined to the request it judges: a canary run is a request through
the gateway like any other), splits them into a live and a candidate ``WindowStats``, and ``analyse``
turns those into one outcome per check and an overall verdict. A check whose compared sides lack ``min_samples``
observations has no data; no data is never a pass, so a rollout without traffic halts instead of
advancing on silence.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from keel.rollout.config import Metric, MetricCheck, RolloutConfig

if TYPE_CHECKING:
    from keel.rollout.machine import RolloutState

Side = Literal["live", "candidate"]
Outcome = Literal["passed", "failed", "no_data"]
Verdict = Literal["pass", "fail", "no_data"]


@dataclass(frozen=True, slots=True)
class Observation:
    """What one request says about the side it was assigned to."""

    side: Side
    ok: bool
    latency_ms: float
    cost_usd: float | None = None
    """None when the cost is unknown; such requests are left out of the cost per request."""
    validator_failed: bool = False
    feedback_score: float | None = None
    canary_passed: bool | None = None


@dataclass(slots=True)
class WindowStats:
    """Counts over one side's window. Latency is kept as a sample of successful requests only: an
    error that fails fast would otherwise make a broken candidate look quick."""

    requests: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    cost_usd_sum: float = 0.0
    costed_requests: int = 0
    validator_failures: int = 0
    feedback_sum: float = 0.0
    feedback_count: int = 0
    canary_passes: int = 0
    canary_runs: int = 0

    def add(self, obs: Observation) -> None:
        self.requests += 1
        if obs.ok:
            self.latencies_ms.append(obs.latency_ms)
            self.validator_failures += obs.validator_failed
        else:
            self.errors += 1
        if obs.cost_usd is not None:
            self.cost_usd_sum += obs.cost_usd
            self.costed_requests += 1
        if obs.feedback_score is not None:
            self.feedback_sum += obs.feedback_score
            self.feedback_count += 1
        if obs.canary_passed is not None:
            self.add_canary_run(obs.canary_passed)

    def add_canary_run(self, passed: bool) -> None:
        """A golden-canary trial kept apart from the request log (a suite aimed at this side's
        deployment): it counts towards ``canary_pass_rate`` only, not as a request."""
        self.canary_passes += passed
        self.canary_runs += 1

    def samples(self, metric: Metric) -> int:
        """How many observations the metric's value rests on."""
        if metric == "error_rate":
            return self.requests
        if metric in ("p99_latency_ms", "validator_failure_rate"):
            return len(self.latencies_ms)  # successful requests: the ones whose output was validated
        if metric == "cost_per_request_usd":
            return self.costed_requests
        if metric == "feedback_score":
            return self.feedback_count
        return self.canary_runs

    def value(self, metric: Metric) -> float | None:
        """The metric over this window; None without any sample."""
        n = self.samples(metric)
        if n == 0:
            return None
        if metric == "error_rate":
            return self.errors / n
        if metric == "p99_latency_ms":
            return p99(self.latencies_ms)
        if metric == "validator_failure_rate":
            return self.validator_failures / n
        if metric == "cost_per_request_usd":
            return self.cost_usd_sum / n
        if metric == "feedback_score":
            return self.feedback_sum / n
        return self.canary_passes / n


def p99(values: list[float]) -> float:
    """The nearest-rank 99th percentile: the smallest value at or above 99% of the sample."""
    rank = math.ceil(0.99 * len(values)) - 1
    return float(np.partition(np.asarray(values, dtype=np.float64), rank)[rank])


def split(observations: Iterable[Observation]) -> tuple[WindowStats, WindowStats]:
    """The (live, candidate) statistics of a mixed window."""
    live, candidate = WindowStats(), WindowStats()
    for obs in observations:
        (candidate if obs.side == "candidate" else live).add(obs)
    return live, candidate


@dataclass(frozen=True, slots=True)
class CheckResult:
    check: MetricCheck
    outcome: Outcome
    value: float | None
    """The candidate's value (``absolute``) or candidate / live (``relative_to_live``); None without data."""
    bound: float | None
    """The bound that was crossed, when the check failed."""
    detail: str
    """Why, for people: ``812.0 > 500.0`` or ``candidate has 12 of 50 samples``."""


@dataclass(frozen=True, slots=True)
class AnalysisResult:
    verdict: Verdict
    checks: tuple[CheckResult, ...]

    def with_outcome(self, outcome: Outcome) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if c.outcome == outcome)


def analyse(config: RolloutConfig, live: WindowStats, candidate: WindowStats) -> AnalysisResult:
    """Every check on these windows; the verdict is fail if any fails, else no_data if any lacks data."""
    results = tuple(evaluate(check, live, candidate) for check in config.checks)
    outcomes = {r.outcome for r in results}
    verdict: Verdict = "fail" if "failed" in outcomes else "no_data" if "no_data" in outcomes else "pass"
    return AnalysisResult(verdict, results)


def evaluate(check: MetricCheck, live: WindowStats, candidate: WindowStats) -> CheckResult:
    """One check. An ``absolute`` check reads the candidate only; a relative one needs both sides."""
    sides = [("candidate", candidate)] + ([("live", live)] if check.compare == "relative_to_live" else [])
    for name, stats in sides:
        n = stats.samples(check.metric)
        if n < check.min_samples:
            return CheckResult(check, "no_data", None, None, f"{name} has {n} of {check.min_samples} samples")
    cand_value = candidate.value(check.metric)
    assert cand_value is not None  # min_samples >= 1 samples were counted above
    if check.compare == "absolute":
        value, shown = cand_value, fmt(cand_value)
    else:
        live_value = live.value(check.metric)
        assert live_value is not None
        value = _ratio(cand_value, live_value)
        shown = f"{fmt(value)}x live ({fmt(cand_value)} vs {fmt(live_value)})"
    if check.max is not None and value > check.max:
        return CheckResult(check, "failed", value, check.max, f"{shown} > {fmt(check.max)}")
    if check.min is not None and value < check.min:
        return CheckResult(check, "failed", value, check.min, f"{shown} < {fmt(check.min)}")
    return CheckResult(check, "passed", value, None, f"{shown} within bounds")


def _ratio(candidate: float, live: float) -> float:
    # A live value of zero: equal values are a ratio of 1, anything more is infinitely worse (or better).
    if live == 0:
        return 1.0 if candidate == 0 else math.copysign(math.inf, candidate)
    return candidate / live


def fmt(value: float) -> str:
    """Four significant digits, in Python's float spelling (``812.0``, ``0.01235``, ``inf``)."""
    return repr(float(f"{value:.4g}"))


@dataclass(frozen=True, slots=True)
class Window:
    """A span of request time, ``start`` inclusive and ``end`` exclusive."""

    start: float
    end: float


def windows(config: RolloutConfig, state: RolloutState, now: float) -> tuple[Window, Window]:
    """The (live, candidate) spans the analysis at ``now`` should read.

    Both are the last ``analysis_interval_s``, so consecutive analyses judge fresh traffic. Once the
    candidate takes all traffic the live side gets none: its span is then the interval before the
    candidate reached 100%, so relative checks keep a baseline instead of running out of data.
    """
    interval = config.analysis_interval_s
    candidate = Window(now - interval, now)
    if state.weight >= 100:
        return Window(state.step_started_at - interval, state.step_started_at), candidate
    return candidate, candidate
