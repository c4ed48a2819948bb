"""Each confidence signal on its own, and how the known ones combine into one score."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.review.confidence import Confidence, score_answer

Json = dict[str, Any]


def answer(text: str | None = "Paris is the capital of France.", **extra: Any) -> Json:
    message: Json = {"role": "assistant", "content": text}
    choice: Json = {"index": 0, "message": message, "logprobs": extra.pop("logprobs", None), "finish_reason": "stop"}
    if "refusal" in extra:
        message["refusal"] = extra.pop("refusal")
    return {"object": "chat.completion", "choices": [choice], **extra}


def verdict(action: str, stage: str = "output") -> Json:
    return {"guard": "g", "stage": stage, "action": action, "findings": [], "latency_ms": 0.1}


def score(found: Json, **options: Any) -> Confidence | None:
    return score_answer(
        found, verdicts=options.pop("verdicts", []), deployment_provider=options.pop("provider", None), **options
    )


def test_a_plain_answer_is_known_only_not_to_be_a_refusal() -> None:
    assert score(answer()) == Confidence(1.0, {"refusal": 1.0})


def test_no_known_signal_is_unknown_not_zero() -> None:
    assert score(answer(None)) is None  # no text, no guards, no logprobs: nothing to go on
    assert score(answer(), signals=("faq", "logprobs")) is None


@pytest.mark.parametrize(
    ("actions", "expected"),
    [
        (["allow"], 1.0),
        (["allow", "redact"], 1.0),
        (["allow", "flag"], 0.0),
        (["block"], 0.0),
        (["fallback"], 0.0),
        (["retry", "allow"], 0.0),  # it passed only when asked again
    ],
)
def test_validators_fail_on_any_failed_output_verdict(actions: list[str], expected: float) -> None:
    found = score(answer(), verdicts=[verdict(a) for a in actions], signals=("validators",))
    assert found == Confidence(expected, {"validators": expected})


def test_input_verdicts_are_not_about_the_answer() -> None:
    assert score(answer(), verdicts=[verdict("block", "input")], signals=("validators",)) is None


def test_faq_confidence_counts_only_for_an_faq_deployment() -> None:
    found = answer("Refunds take 5 days.", keel={"confidence": 0.4123, "fallback": False})
    assert score(found, provider="faq") == Confidence(0.4123, {"faq": 0.4123, "refusal": 1.0})
    assert score(found, provider="openai") == Confidence(1.0, {"refusal": 1.0})


def test_logprobs_are_the_geometric_mean_of_the_token_probabilities() -> None:
    tokens: list[Json] = [
        {"token": t, "logprob": lp, "bytes": None, "top_logprobs": []} for t, lp in (("Pa", -0.1), ("ris", -0.5))
    ]
    found = score(answer(logprobs={"content": tokens, "refusal": None}), signals=("logprobs",))
    assert found is not None
    assert found.score == round(math.sqrt(math.exp(-0.1) * math.exp(-0.5)), 4) == 0.7408
    assert score(answer(logprobs={"content": [], "refusal": None}), signals=("logprobs",)) is None


def test_agreement_is_the_least_similar_resample() -> None:
    same = answer("the capital of France is Paris")
    other = answer("Lyon, I think")
    assert score(answer(), resampled=[same], signals=("agreement",)) == Confidence(1.0, {"agreement": 1.0})
    low = score(answer(), resampled=[same, other], signals=("agreement",))
    assert low is not None and low.score < 0.5 and low.parts == {"agreement": low.score}
    assert score(answer(), signals=("agreement",)) is None  # nothing asked again


def test_a_refusal_scores_zero() -> None:
    declined = answer("I'm sorry, but I can't help with that.")
    assert score(declined) == Confidence(0.0, {"refusal": 0.0})
    assert score(answer(None, refusal="I can't assist with that.")) == Confidence(0.0, {"refusal": 0.0})


def test_the_weakest_signal_decides() -> None:
    found = answer("Refunds take 5 days.", keel={"confidence": 0.9})
    combined = score(found, provider="faq", verdicts=[verdict("allow")])
    assert combined == Confidence(0.9, {"validators": 1.0, "faq": 0.9, "refusal": 1.0})


@given(st.dictionaries(st.sampled_from(["faq", "logprobs"]), st.floats(0, 1), min_size=1))
def test_the_score_is_the_minimum_of_the_parts(values: dict[str, float]) -> None:
    extra: Json = {"keel": {"confidence": values["faq"]}} if "faq" in values else {}
    if "logprobs" in values:
        logprob = math.log(values["logprobs"]) if values["logprobs"] > 0 else -1e9
        extra["logprobs"] = {"content": [{"token": "x", "logprob": logprob}], "refusal": None}
    found = score(answer(**extra), provider="faq", signals=tuple(values))
    assert found is not None and set(found.parts) == set(values)
    assert found.score == min(found.parts.values())
    assert all(found.parts[name] == pytest.approx(value, abs=1e-4) for name, value in values.items())
