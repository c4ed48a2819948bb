"""Builders shared by the rollout tests: a config as ``keel.yaml`` would give it, and bare analysis results."""

from __future__ import annotations

from typing import Any

import orjson

from keel.rollout.analysis import AnalysisResult, CheckResult, Outcome, Verdict
from keel.rollout.config import MetricCheck, RolloutConfig

T0 = 1_700_000_000.0


def make_config(**overrides: Any) -> RolloutConfig:
    """A rollout config parsed as the loader parses YAML (from JSON, so lists become tuples)."""
    raw: dict[str, Any] = {
        "candidate": "gpt-4o-mini",
        "checks": [
            {"metric": "error_rate", "max": 0.05, "min_samples": 30},
            {"metric": "p99_latency_ms", "max": 500.0, "min_samples": 30},
        ],
    }
    raw.update(overrides)
    return RolloutConfig.model_validate_json(orjson.dumps(raw))


_CHECK = MetricCheck(metric="error_rate", max=0.05)
_OUTCOME: dict[Verdict, Outcome] = {"pass": "passed", "fail": "failed", "no_data": "no_data"}
_DETAIL = {"pass": "0.01 within bounds", "fail": "0.2 > 0.05", "no_data": "candidate has 3 of 50 samples"}


def verdict(kind: Verdict) -> AnalysisResult:
    """An analysis with the given verdict, as one error-rate check would report it."""
    value = {"pass": 0.01, "fail": 0.2, "no_data": None}[kind]
    bound = 0.05 if kind == "fail" else None
    return AnalysisResult(kind, (CheckResult(_CHECK, _OUTCOME[kind], value, bound, _DETAIL[kind]),))
