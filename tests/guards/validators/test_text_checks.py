from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from keel.guards.validators import ContainsConfig, LengthConfig, RegexConfig, build_validator
from tests.guards.validators.conftest import parse


async def _check(config: dict[str, Any], answer: str) -> list[str]:
    parsed = parse(config)
    assert isinstance(parsed, RegexConfig | ContainsConfig | LengthConfig)
    validator = build_validator(parsed, base_dir=Path("."), session=None)
    result = await validator.validate(answer)
    assert result.ok == (not result.problems)
    assert result.validator == (config.get("name") or config["type"])
    assert result.entities_checked == 0
    return result.problems


async def test_regex_must_match() -> None:
    config = {"type": "regex", "pattern": r"ORDER-\d{4}"}
    assert await _check(config, "Your order is ORDER-1234.") == []
    problems = await _check(config, "Your order is on its way.")
    assert problems == ["the answer does not match the pattern 'ORDER-\\d{4}'"]


async def test_regex_must_not_match_quotes_a_short_excerpt_of_the_match() -> None:
    config = {"type": "regex", "name": "no-links", "pattern": r"https?://\S+", "must": "not_match"}
    assert await _check(config, "No links here.") == []
    long_link = "https://example.com/" + "a" * 200
    problems = await _check(config, f"See {long_link} for more.")
    assert len(problems) == 1
    assert problems[0].startswith(
        "the answer matches the forbidden pattern 'https?://\\S+' at 'https://example.com/aaa"
    )
    assert "a" * 60 not in problems[0]


async def test_regex_ignore_case() -> None:
    config = {"type": "regex", "pattern": "^yes", "ignore_case": True}
    assert await _check(config, "YES, it is") == []
    assert await _check(config | {"ignore_case": False}, "YES, it is") != []


@pytest.mark.parametrize(
    ("config", "answer", "ok"),
    [
        ({"text": "Refund"}, "You will get a refund.", True),
        ({"text": "Refund", "case_sensitive": True}, "You will get a refund.", False),
        ({"text": "refund"}, "No money back.", False),
        ({"text": "guarantee", "must": "not_contain"}, "We GUARANTEE it.", False),
        ({"text": "guarantee", "must": "not_contain", "case_sensitive": True}, "We GUARANTEE it.", True),
        ({"text": "guarantee", "must": "not_contain"}, "Maybe.", True),
    ],
)
async def test_contains(config: dict[str, Any], answer: str, ok: bool) -> None:
    problems = await _check({"type": "contains", **config}, answer)
    assert (problems == []) == ok
    if not ok:
        assert repr(config["text"]) in problems[0]


async def test_contains_problem_names_which_way_it_failed() -> None:
    assert await _check({"type": "contains", "text": "refund"}, "no") == ["the answer does not contain 'refund'"]
    assert await _check({"type": "contains", "text": "x", "must": "not_contain"}, "x") == [
        "the answer contains the forbidden text 'x'"
    ]


async def test_length_in_characters_and_words() -> None:
    config = {"type": "length", "min_chars": 5, "max_chars": 20, "min_words": 2, "max_words": 3}
    assert await _check(config, "two words") == []
    assert await _check(config, "one") == [
        "the answer has 3 characters, fewer than the minimum of 5",
        "the answer has 1 words, fewer than the minimum of 2",
    ]
    assert await _check(config, "far too many words in this answer") == [
        "the answer has 33 characters, more than the maximum of 20",
        "the answer has 7 words, more than the maximum of 3",
    ]


async def test_length_bounds_are_inclusive() -> None:
    assert await _check({"type": "length", "min_chars": 3, "max_chars": 3}, "abc") == []
    assert await _check({"type": "length", "max_words": 2}, "  one\n\ttwo  ") == []
