"""The tiering section of a route: at least two tiers, distinct names, strict keys and sane bounds."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
import pytest
from pydantic import BaseModel, ValidationError

from keel.routing.tiering.config import ClassifierConfig, EscalationConfig, TieringConfig

M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], data: Any) -> M:
    """As the config loader does: YAML is read as JSON data, validated in JSON mode."""
    return model.model_validate_json(orjson.dumps(data))


def tiering(*names: str, **extra: Any) -> dict[str, Any]:
    return {"tiers": [{"name": name, "deployments": [f"{name}-model"]} for name in names], **extra}


def test_two_tiers_with_defaults() -> None:
    config = parse(TieringConfig, tiering("cheap", "strong"))
    assert config.names == ("cheap", "strong")
    assert config.strongest.name == "strong"
    assert config.classifier.max_prompt_tokens == 400
    assert config.escalation.on_refusal


def test_needs_at_least_two_tiers() -> None:
    with pytest.raises(ValidationError, match="at least 2"):
        parse(TieringConfig, tiering("only"))


def test_tier_names_must_be_distinct() -> None:
    with pytest.raises(ValidationError, match="distinct"):
        parse(TieringConfig, tiering("small", "big", "small"))


def test_tier_needs_a_deployment() -> None:
    with pytest.raises(ValidationError, match="deployments"):
        parse(TieringConfig, {"tiers": [{"name": "a", "deployments": []}, {"name": "b", "deployments": ["x"]}]})


@pytest.mark.parametrize(
    ("section", "value"),
    [
        ({"max_prompt_tokens": 0}, "max_prompt_tokens"),
        ({"max_turns": -1}, "max_turns"),
        ({"neighbours": 0}, "neighbours"),
        ({"strong_keywords": ["refund", "  "]}, "blank"),
        ({"max_prompt_tokens": "400"}, "max_prompt_tokens"),
        ({"max_tokens": 400}, "max_tokens"),
    ],
)
def test_classifier_rejects(section: dict[str, Any], value: str) -> None:
    with pytest.raises(ValidationError, match=value):
        parse(ClassifierConfig, section)


@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_faq_confidence_floor_is_a_probability(value: float) -> None:
    with pytest.raises(ValidationError, match="min_faq_confidence"):
        parse(EscalationConfig, {"min_faq_confidence": value})


def test_unknown_escalation_key_is_an_error() -> None:
    with pytest.raises(ValidationError, match="on_timeout"):
        parse(EscalationConfig, {"on_timeout": True})
