"""Checking one answer against one assertion of a canary test.

Every check returns an outcome with a short human detail, pass or fail, so a failed canary says why.
The two checks that need a model get it injected: ``embed`` for embedding similarity and ``chat`` for
the judge, both called through Keel by the gateway. A check that cannot be carried out (no embedding
function, the judge erred or gave no readable score) fails: a canary that could not look is not green.
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, assert_never

import jsonschema
import numpy as np
from rapidfuzz import fuzz
from rapidfuzz.utils import default_process

from keel.canary.jsonpath import Missing, parse_path, resolve
from keel.canary.jsontext import NotJson, answer_json
from keel.canary.judge import MAX_SCORE, JudgeReplyError, judge_messages, parse_grade
from keel.canary.suite import (
    AssertionModel,
    Contains,
    JsonSchema,
    Judge,
    NotContains,
    Number,
    NumberSpec,
    Regex,
    SimilarTo,
)

ChatFn = Callable[[str, list[dict[str, Any]]], Awaitable[str]]
"""``chat(route, messages)``: the text of the answer the route gives to ``messages``."""
EmbedFn = Callable[[list[str]], Awaitable[Sequence[Sequence[float]]]]
"""``embed(texts)``: one vector per text, in order."""

_EXCERPT = 80
# Float noise (0.1 + 0.2) must not fail a number check whose tolerance is zero.
_REL_TOL = 1e-9
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")


@dataclass(frozen=True, slots=True)
class AssertionOutcome:
    passed: bool
    detail: str
    kind: str


async def check(
    assertion: AssertionModel,
    answer_text: str,
    *,
    chat: ChatFn | None,
    embed: EmbedFn | None,
    conversation: Sequence[Mapping[str, Any]] = (),
) -> AssertionOutcome:
    """Check ``answer_text``; ``conversation`` (what was asked) is shown to the judge."""
    match assertion:
        case Contains():
            passed, detail = _contains(answer_text, assertion.contains, assertion.ignore_case)
        case NotContains():
            found, _ = _contains(answer_text, assertion.not_contains, assertion.ignore_case)
            passed = not found
            detail = f"{assertion.not_contains!r} {'is in' if found else 'is not in'} the answer"
        case Regex():
            passed, detail = _regex(answer_text, assertion.regex)
        case JsonSchema():
            passed, detail = _json_schema(answer_text, assertion.json_schema)
        case SimilarTo():
            passed, detail = await _similar(answer_text, assertion, embed)
        case Number():
            passed, detail = _number(answer_text, assertion.number)
        case Judge():
            passed, detail = await _judge(answer_text, assertion, chat, conversation)
        case _:
            assert_never(assertion)
    return AssertionOutcome(passed, detail, assertion.kind)


def _contains(answer: str, needle: str, ignore_case: bool) -> tuple[bool, str]:
    found = needle.casefold() in answer.casefold() if ignore_case else needle in answer
    return found, f"{needle!r} {'is in' if found else 'is not in'} the answer"


def _regex(answer: str, pattern: str) -> tuple[bool, str]:
    match = re.search(pattern, answer)
    if match is None:
        return False, f"no match for /{pattern}/"
    return True, f"/{pattern}/ matched {_excerpt(match.group(0))}"


def _json_schema(answer: str, schema: dict[str, Any]) -> tuple[bool, str]:
    try:
        document = answer_json(answer)
    except NotJson as error:
        return False, str(error)
    validator = jsonschema.validators.validator_for(schema)(schema)
    problem = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if problem is None:
        return True, "the answer is valid against the schema"
    where = problem.json_path if problem.path else "the answer"
    return False, f"{where}: {problem.message}"


async def _similar(answer: str, assertion: SimilarTo, embed: EmbedFn | None) -> tuple[bool, str]:
    if assertion.method == "lexical":
        score = fuzz.token_set_ratio(answer, assertion.similar_to, processor=default_process) / 100
    else:
        if embed is None:
            return False, "embedding similarity needs an embedding model, and none is available"
        try:
            vectors = await embed([answer, assertion.similar_to])
            score = _cosine(vectors)
        except Exception as error:  # the embedder is foreign code: any failure fails this check only
            return False, f"embedding failed: {describe_error(error)}"
    passed = score >= assertion.min
    return passed, f"{assertion.method} similarity {score:.3f} (min {assertion.min:g})"


def _cosine(vectors: Sequence[Sequence[float]]) -> float:
    if len(vectors) != 2:
        raise ValueError(f"expected 2 vectors, got {len(vectors)}")
    a, b = (np.asarray(vector, dtype=np.float64) for vector in vectors)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"vectors of shapes {a.shape} and {b.shape} cannot be compared")
    norms = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b)) / norms if norms > 0 else 0.0


def _number(answer: str, spec: NumberSpec) -> tuple[bool, str]:
    try:
        value, source = _extract_number(answer, spec)
    except (NotJson, Missing, ValueError) as error:
        return False, str(error)
    passed = math.isclose(value, spec.equals, rel_tol=_REL_TOL, abs_tol=spec.tolerance)
    return passed, f"{source} is {value:g}, expected {spec.equals:g} ± {spec.tolerance:g}"


def _extract_number(answer: str, spec: NumberSpec) -> tuple[float, str]:
    if spec.json_path is not None:
        raw = resolve(answer_json(answer), parse_path(spec.json_path))
        source = spec.json_path
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return float(raw), source
        if not isinstance(raw, str):
            raise ValueError(f"{source} is {_excerpt(repr(raw))}, not a number")
    else:
        assert spec.regex is not None  # NumberSpec requires exactly one source
        match = re.search(spec.regex, answer)
        if match is None:
            raise ValueError(f"no match for /{spec.regex}/")
        # The first group when the pattern has one, so "total: (\d+)" reads just the number.
        raw = match.group(1) if match.re.groups else match.group(0)
        source = f"/{spec.regex}/"
    text = raw.strip()
    if _THOUSANDS.match(text):
        text = text.replace(",", "")
    try:
        return float(text), source
    except ValueError:
        raise ValueError(f"{source} gave {_excerpt(raw)}, not a number") from None


async def _judge(
    answer: str, assertion: Judge, chat: ChatFn | None, conversation: Sequence[Mapping[str, Any]]
) -> tuple[bool, str]:
    spec = assertion.judge
    if chat is None:
        return False, "a judge assertion needs a chat function, and none is available"
    try:
        reply = await chat(spec.route, judge_messages(spec.criteria, conversation, answer))
    except Exception as error:  # any failure of the judge's route fails this check only
        return False, f"judge on route {spec.route!r} failed: {describe_error(error)}"
    try:
        grade = parse_grade(reply)
    except JudgeReplyError as error:
        return False, str(error)
    reason = f": {grade.reason}" if grade.reason else ""
    return grade.score >= spec.min_score, f"judge score {grade.score}/{MAX_SCORE} (min {spec.min_score}){reason}"


def describe_error(error: BaseException) -> str:
    """``Type: message``, for outcomes and trial errors."""
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= _EXCERPT else flat[:_EXCERPT] + "…")
