"""A route's confidence section: defaults, bounds, strict keys, and a fallback that needs a safe mode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from keel.config.errors import ConfigError
from keel.config.loader import read_runtime_config
from keel.review.config import ConfidenceConfig

ROUTE = """\
routes:
  support:
    deployments: [live]
    SAFE
    confidence: CONFIDENCE
deployments:
  live: {provider: simulator}
"""


def test_defaults_and_bounds() -> None:
    config = ConfidenceConfig()
    assert config.signals == ("validators", "faq", "logprobs", "refusal")  # agreement costs a call: opt in
    assert (config.threshold, config.below, config.agreement_samples, config.review_sample) == (0.5, "review", 2, 0.0)
    assert (config.reviews, config.falls_back) == (True, False)
    both = ConfidenceConfig(below="fallback_and_review")
    assert (both.reviews, both.falls_back) == (True, True)
    bad: dict[str, Any]
    for bad in (
        {"threshold": 1.5},
        {"threshold": -0.1},
        {"below": "escalate"},
        {"signals": ["votes"]},
        {"signals": []},
        {"signals": ["faq", "faq"]},
        {"agreement_samples": 1},
        {"review_sample": 2.0},
        {"sample": 0.5},
    ):
        with pytest.raises(ValidationError):
            ConfidenceConfig.model_validate(bad)


def _load(tmp_path: Path, confidence: str, safe: str = "") -> ConfidenceConfig | None:
    text = ROUTE.replace("CONFIDENCE", confidence).replace("SAFE", safe or "description: plain")
    return read_runtime_config(text, file="keel.yaml", base_dir=tmp_path).routes["support"].config.confidence


def test_a_route_declares_its_confidence(tmp_path: Path) -> None:
    found = _load(tmp_path, "{signals: [refusal, agreement], threshold: 0.7, review_sample: 0.05}")
    assert found == ConfidenceConfig(signals=("refusal", "agreement"), threshold=0.7, review_sample=0.05)


def test_falling_back_needs_the_routes_safe_mode(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no `safe_mode`"):
        _load(tmp_path, "{below: fallback}")
    safe = "safe_mode: {message: Sorry}"
    assert _load(tmp_path, "{below: fallback_and_review}", safe) == ConfidenceConfig(below="fallback_and_review")
