"""Corrected reviews as a canary suite file that ``load_suite`` reads back."""

from __future__ import annotations

from pathlib import Path

import pytest

from keel.canary.suite import SimilarTo, load_suite
from keel.review.export import canary_suite_yaml, suite_name
from keel.review.store import Review


def corrected(review_id: str, messages: list[dict[str, object]], answer: str | None) -> Review:
    return Review(
        request_id=f"req-{review_id}",
        route="support",
        deployment="faq",
        reason="low_confidence",
        confidence=0.3,
        parts={"faq": 0.3},
        messages=messages,
        answer="Refunds take a while.",
        review_id=review_id,
        status="corrected" if answer else "approved",
        corrected_answer=answer,
    )


def test_corrections_become_tests_of_the_route(tmp_path: Path) -> None:
    conversation: list[dict[str, object]] = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Where is my refund? Mail <EMAIL_1>."},
    ]
    reviews = [
        corrected("rv_1", [{"role": "user", "content": "How long do refunds take?"}], "Refunds take 5 to 7 days."),
        corrected("rv_2", conversation, "Refunds are paid within 7 days of the return arriving."),
        corrected("rv_3", [{"role": "user", "content": "Approved, not corrected"}], None),
    ]
    path = tmp_path / "suite.yaml"
    path.write_text(canary_suite_yaml("support", reviews), encoding="utf-8")
    assert "min: 0.8" in path.read_text()
    suite = load_suite(path)
    assert (suite.name, suite.target.route, suite.schedule) == ("support-reviews", "support", None)
    assert [test.id for test in suite.tests] == ["rv_1", "rv_2"]
    first, second = suite.tests
    assert first.prompt == "How long do refunds take?" and first.messages is None
    assert second.prompt is None and second.conversation == conversation
    assert first.checks == (SimilarTo(similar_to="Refunds take 5 to 7 days.", min=0.8),)


def test_nothing_corrected_is_nothing_to_export() -> None:
    with pytest.raises(ValueError, match="no corrected reviews"):
        canary_suite_yaml("support", [corrected("rv_3", [{"role": "user", "content": "Hi"}], None)])


def test_suite_names_are_made_valid() -> None:
    assert suite_name("support") == "support-reviews"
    assert suite_name("team/support bot") == "team-support-bot-reviews"
    assert suite_name("_private") == "private-reviews"
