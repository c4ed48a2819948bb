"""Corrected reviews as a canary suite: each correction becomes a golden question with its reference answer.

A test asks the reviewed question again (the redacted prompt, or the whole redacted conversation) of
the route, and passes when the answer is lexically similar to the reviewer's correction
(``similar_to``, ``min: 0.8``). The suite is validated like any suite file before it is written, so
``keel canary`` can run it as it is, or it can be edited first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import yaml

from keel.canary.suite import suite_from_data
from keel.review.store import Review

SIMILAR_AT = 0.8


def suite_name(route: str) -> str:
    """A valid suite name for the route's corrections (suite names allow letters, digits, ``_.-``)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", f"{route}-reviews").lstrip("_.-")


def canary_suite_yaml(route: str, corrected: Sequence[Review], *, name: str | None = None) -> str:
    """The YAML suite file of the ``corrected`` reviews of ``route``.

    Raises ``ValueError`` when none has a correction, and ``SuiteError`` when a review does not make a
    valid test (the file would not load).
    """
    tests = [_test(review) for review in corrected if review.corrected_answer]
    if not tests:
        raise ValueError(f"route {route!r} has no corrected reviews to export")
    data = {
        "name": name or suite_name(route),
        "description": f"Answers corrected in human review of route {route}.",
        "target": {"route": route},
        "tests": tests,
    }
    suite_from_data(data, file=f"{data['name']}.yaml")
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def _test(review: Review) -> dict[str, Any]:
    test: dict[str, Any] = {"id": review.review_id}
    prompt = review.prompt
    if prompt is not None:
        test["prompt"] = prompt
    else:
        test["messages"] = review.messages
    test["assert"] = [{"similar_to": review.corrected_answer, "min": SIMILAR_AT}]
    return test
