"""Reading the judge's grade from the many shapes a model's reply takes."""

from __future__ import annotations

import pytest

from keel.canary.judge import Grade, JudgeReplyError, parse_grade


@pytest.mark.parametrize(
    ("reply", "grade"),
    [
        ('{"score": 4, "reason": "ok"}', Grade(4, "ok")),
        ('  {"score": 1}  ', Grade(1, "")),
        ('```\n{"score": 5, "reason": "great"}\n```', Grade(5, "great")),
        ('Grade: {"notes": "x"} then {"score": 2, "reason": "weak"}', Grade(2, "weak")),
        ('{"score": 3.0, "reason": 7}', Grade(3, "")),
        ('{"score": " 4 "}', Grade(4, "")),
        ("I'd give it score=5, well done", Grade(5, "")),
        ('"Score": "2"', Grade(2, "")),
    ],
)
def test_readable_grades(reply: str, grade: Grade) -> None:
    assert parse_grade(reply) == grade


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ("", "has no score"),
        ("It's great, 5 stars", "has no score"),
        ('{"score": true}', "not a whole number"),
        ('{"score": NaN}', "not a whole number"),
        ('{"score": [4]}', "not a whole number"),
        ('{"score": "four"}', "not a number"),
        ('{"score": 0}', "outside 1-5"),
        ("score: 6", "outside 1-5"),
    ],
)
def test_unreadable_grades_are_errors(reply: str, message: str) -> None:
    with pytest.raises(JudgeReplyError, match=message):
        parse_grade(reply)
