"""Rollout config: defaults, and every malformed section refused with a message naming the problem."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from keel.rollout.config import MetricCheck, RolloutConfig
from tests.rollout.factories import make_config


def test_defaults_follow_the_documented_rollout() -> None:
    config = make_config()
    assert config.steps == (1, 5, 25, 50, 100)
    assert (config.step_interval_s, config.analysis_interval_s, config.max_failed_checks) == (300, 60, 3)
    assert config.sticky == "user" and config.sticky_header is None
    check = MetricCheck(metric="cost_per_request_usd", max=0.01)
    assert (check.compare, check.min_samples, check.min) == ("absolute", 50, None)


@pytest.mark.parametrize(
    ("sticky", "header"),
    [("user", None), ("none", None), ("session", "x-session-id"), ("header:X-Tenant-Id", "x-tenant-id")],
)
def test_sticky_sources(sticky: str, header: str | None) -> None:
    assert make_config(sticky=sticky).sticky_header == header


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"steps": []}, "at least one step"),
        ({"steps": [5, 1, 100]}, "steps must increase"),
        ({"steps": [5, 5, 100]}, "steps must increase"),
        ({"steps": [1, 50]}, "last step must be 100"),
        ({"steps": [0, 100]}, "not a percentage"),
        ({"steps": [50, 101]}, "not a percentage"),
        ({"steps": [0.005, 100]}, "0.01% assignment resolution"),
        ({"sticky": "cookie"}, "not one of user, session, none"),
        ({"sticky": "header:"}, "not one of user, session, none"),
        ({"sticky": "header:bad name"}, "not one of user, session, none"),
        ({"checks": []}, "at least 1 item"),
        ({"checks": [{"metric": "error_rate"}]}, "give 'min', 'max' or both"),
        ({"checks": [{"metric": "error_rate", "min": 0.5, "max": 0.1}]}, "is above 'max'"),
        ({"checks": [{"metric": "error_rate", "max": -1, "compare": "relative_to_live"}]}, "cannot be negative"),
        ({"checks": [{"metric": "latency", "max": 1}]}, "metric"),
        ({"checks": [{"metric": "error_rate", "max": 1, "compare": "ratio"}]}, "compare"),
        ({"checks": [{"metric": "error_rate", "max": 1, "min_samples": 0}]}, "min_samples"),
        ({"max_failed_checks": 0}, "max_failed_checks"),
        ({"analysis_interval_s": 0}, "analysis_interval_s"),
        ({"step_interval_s": -1}, "step_interval_s"),
        ({"candidate": ""}, "candidate"),
        ({"weights": [1, 100]}, "Extra inputs are not permitted"),
    ],
)
def test_malformed_configs_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        make_config(**overrides)


def test_fine_steps_at_the_assignment_resolution_are_allowed() -> None:
    assert make_config(steps=[0.01, 0.5, 2.25, 100]).steps == (0.01, 0.5, 2.25, 100)


def test_numbers_are_not_coerced_from_strings() -> None:
    with pytest.raises(ValidationError):
        RolloutConfig.model_validate({"candidate": "x", "checks": [{"metric": "error_rate", "max": "0.1"}]})
