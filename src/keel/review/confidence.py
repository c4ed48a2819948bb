"""How sure Keel is of an answer: a few independent signals, each in [0, 1], combined into one score.

=============  ================================================================================
validators     1 when no output guard failed the answer (``retry``, ``fallback``, ``block`` or
               ``flag`` at the output stage), else 0. An answer that passed only when asked again
               counts as failed: the model got it wrong once. Known when the route has output guards.
faq            the FAQ provider's match confidence, when an ``faq`` deployment answered.
logprobs       exp(mean token log-probability) of the first choice: the geometric mean of the
               probabilities of its tokens. Known when the upstream returned ``logprobs``.
agreement      how alike the answer and the same request asked again are: rapidfuzz
               ``token_set_ratio`` / 100, the lowest over the extra samples.
refusal        0 when the answer declines the request (``is_refusal``, or a ``refusal`` message), else 1.
=============  ================================================================================

The score is the lowest known signal, not an average: the signals fail in different ways, and any
one of them being weak is reason enough to doubt the answer — a fluent refusal has high logprobs, a
well-formed answer may agree with itself and still fail a business rule. An average would let the
strong signals hide the weak one. With no signal known the score is unknown, and the answer is
treated as confident: missing evidence is not evidence of a bad answer.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz
from rapidfuzz.utils import default_process

from keel.review.config import SIGNALS, Signal
from keel.routing.tiering.refusal import is_refusal

Json = dict[str, Any]
FAILED_ACTIONS = frozenset({"retry", "fallback", "block", "flag"})


@dataclass(frozen=True, slots=True)
class Confidence:
    score: float
    """The lowest of ``parts``."""
    parts: dict[str, float]
    """Each known signal's value, by signal name."""


def score_answer(
    answer: Json,
    *,
    verdicts: Sequence[Mapping[str, Any]],
    deployment_provider: str | None,
    resampled: Sequence[Json] = (),
    signals: Collection[Signal] = SIGNALS,
) -> Confidence | None:
    """The confidence of ``answer`` from the ``signals`` that are known for it; None when none is.

    ``verdicts`` are the request's guard verdicts (``to_json`` form), ``resampled`` the answers to the
    same request asked again (for ``agreement``).
    """
    message = _first_message(answer)
    text = answer_text(answer)
    found: dict[str, float | None] = {
        "validators": _validators(verdicts),
        "faq": _faq(answer) if deployment_provider == "faq" else None,
        "logprobs": _logprobs(answer),
        "agreement": _agreement(text, resampled),
        "refusal": _refusal(text, message.get("refusal")),
    }
    parts = {name: round(value, 4) for name, value in found.items() if name in signals and value is not None}
    if not parts:
        return None
    return Confidence(min(parts.values()), parts)


def answer_text(answer: Json) -> str | None:
    """The first choice's text, if it has any."""
    content = _first_message(answer).get("content")
    return content if isinstance(content, str) else None


def _first_choice(answer: Json) -> Json:
    choices = answer.get("choices")
    first = choices[0] if isinstance(choices, list) and choices else None
    return first if isinstance(first, dict) else {}


def _first_message(answer: Json) -> Json:
    message = _first_choice(answer).get("message")
    return message if isinstance(message, dict) else {}


def _validators(verdicts: Sequence[Mapping[str, Any]]) -> float | None:
    output = [v for v in verdicts if v.get("stage") == "output"]
    if not output:
        return None
    return 0.0 if any(v.get("action") in FAILED_ACTIONS for v in output) else 1.0


def _faq(answer: Json) -> float | None:
    extra = answer.get("keel")
    value = _finite(extra.get("confidence")) if isinstance(extra, dict) else None
    return None if value is None else min(1.0, max(0.0, value))


def _logprobs(answer: Json) -> float | None:
    logprobs = _first_choice(answer).get("logprobs")
    tokens = logprobs.get("content") if isinstance(logprobs, dict) else None
    if not isinstance(tokens, list):
        return None
    found = (_finite(t.get("logprob")) for t in tokens if isinstance(t, dict))
    values = [value for value in found if value is not None]
    if not values:
        return None
    return math.exp(min(0.0, sum(values) / len(values)))


def _agreement(text: str | None, resampled: Sequence[Json]) -> float | None:
    others = [other for other in map(answer_text, resampled) if other is not None]
    if text is None or not others:
        return None
    return min(fuzz.token_set_ratio(text, other, processor=default_process) / 100.0 for other in others)


def _refusal(text: str | None, refusal: object) -> float | None:
    if isinstance(refusal, str) and refusal.strip():
        return 0.0
    if text is None:
        return None
    return 0.0 if is_refusal(text) else 1.0


def _finite(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)
