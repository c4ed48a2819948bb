"""Comparing two answers, and drawing the share of requests to mirror."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cosine as cosine_distance
from scipy.stats import binomtest

from keel.shadow.compare import compare_answers, cosine, lexical_similarity, worst_action
from keel.shadow.mirror import sampled


def answer(text: str | None) -> dict[str, object]:
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}


def fixed_embed(vectors: dict[str, list[float]]):  # type: ignore[no-untyped-def]
    async def embed(texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return np.array([vectors[t] for t in texts], dtype=np.float32)

    return embed


async def test_word_order_case_and_punctuation_do_not_count() -> None:
    found = await compare_answers(answer("Paris is the capital."), answer("the CAPITAL is Paris"))
    assert found.similarity == found.lexical == 1.0
    assert found.semantic is None and found.json_equal is None


async def test_unrelated_answers_score_zero_and_lengths_are_compared() -> None:
    found = await compare_answers(answer("Paris"), answer("Lyon"))
    assert found.lexical == 0.0
    assert found.length_ratio == 4 / 5
    assert (await compare_answers(answer(None), answer(""))).length_ratio == 1.0
    assert (await compare_answers(answer(None), answer("x"))).length_ratio is None


def test_lexical_similarity_is_the_token_set_ratio() -> None:
    # Token sets {a, b, c} and {a, b, d}: the shared part "a b" against "a b c" and "a b d" (Indel ratio
    # 2*3/(3+5) = 0.75 each way), and the two full strings against each other (2*4/(5+5) = 0.8); the
    # best of the three pairs is 0.8.
    assert lexical_similarity("a b c", "a b d") == pytest.approx(0.8)
    assert lexical_similarity("", "") == 1.0 and lexical_similarity("", "a") == 0.0


async def test_json_answers_are_compared_as_documents() -> None:
    same = await compare_answers(answer('{"a": 1, "b": [1, 2]}'), answer('{"b":[1,2],"a":1}'))
    assert same.json_equal is True and same.similarity == 1.0 and same.length_ratio == 1.0
    other = await compare_answers(answer('{"a": 1}'), answer('{"a": true}'))
    assert other.json_equal is False
    assert (await compare_answers(answer('{"a": 1}'), answer("a: 1"))).json_equal is None
    assert (await compare_answers(answer("42"), answer("42"))).json_equal is None  # a bare number is not a document


async def test_with_embeddings_the_headline_is_the_cosine() -> None:
    embed = fixed_embed({"yes": [1.0, 0.0], "ok": [1.0, 1.0]})
    found = await compare_answers(answer("yes"), answer("ok"), embed)
    assert found.semantic == pytest.approx(2**-0.5, rel=1e-6)
    assert found.similarity == found.semantic and found.lexical == 0.0


async def test_an_embedding_failure_leaves_the_lexical_score() -> None:
    async def broken(texts: Sequence[str]) -> npt.NDArray[np.float32]:
        raise ConnectionError("embedding service down")

    found = await compare_answers(answer("Paris"), answer("Paris"), broken)
    assert found.semantic is None and found.similarity == found.lexical == 1.0


_VECTOR = st.lists(st.integers(-1000, 1000).map(lambda n: n / 10), min_size=3, max_size=3)


@given(_VECTOR, _VECTOR)
def test_cosine_agrees_with_scipy(u: list[float], v: list[float]) -> None:
    found = cosine(u, v)
    if not np.any(u) or not np.any(v):
        assert found is None
        return
    assert found == pytest.approx(1 - cosine_distance(u, v), abs=1e-9)


def test_the_worst_guard_action_decides_the_outcome() -> None:
    assert worst_action(["pii=allow", "contains=block", "length=flag"]) == "block"
    assert worst_action(["pii=redact", "contains=flag"]) == "redact"
    assert worst_action([]) is None


def test_sampling_is_a_pure_function_of_route_and_request_id() -> None:
    ids = [f"req_{n:012x}" for n in range(2000)]
    first = [sampled("support", i, 0.25) for i in ids]
    assert first == [sampled("support", i, 0.25) for i in ids]
    assert first != [sampled("billing", i, 0.25) for i in ids]  # each route draws its own requests
    assert all(sampled("support", i, 1.0) for i in ids)


@pytest.mark.parametrize("share", [0.01, 0.1, 0.5, 0.9])
def test_the_share_mirrored_is_the_share_configured(share: float) -> None:
    draws = 20_000
    hits = sum(sampled("support", f"req_5f3a9c{n:012x}", share) for n in range(draws))
    assert binomtest(hits, draws, share).pvalue > 1e-4


@settings(max_examples=200)
@given(st.text(min_size=1, max_size=40), st.floats(0.001, 1.0), st.floats(0.001, 1.0))
def test_a_larger_share_keeps_every_request_a_smaller_one_took(request_id: str, a: float, b: float) -> None:
    low, high = min(a, b), max(a, b)
    assert not sampled("r", request_id, low) or sampled("r", request_id, high)
