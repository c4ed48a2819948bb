"""Embedders: unit rows of the promised shape, lexical behaviour of the hashing embedder, checks on callables."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keel.cache.semantic.embedders import (
    CallableEmbedder,
    EmbedderUnavailable,
    EmbeddingError,
    HashingEmbedder,
    LocalMiniLM,
    build_embedder,
    normalise_rows,
    recommended_threshold,
)


def similarity(rows: np.ndarray, a: int, b: int) -> float:
    return float(rows[a] @ rows[b])


async def test_hashing_rows_are_unit_float32() -> None:
    embedder = HashingEmbedder(256)
    rows = await embedder.embed(["How do I reset my password?", "Where is my order?"])
    assert rows.dtype == np.float32
    assert rows.shape == (2, 256)
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(max_size=200), max_size=5))
def test_hashing_rows_are_unit_or_zero(texts: list[str]) -> None:
    rows = HashingEmbedder().embed_now(texts)
    norms = np.linalg.norm(rows, axis=1)
    assert rows.shape == (len(texts), 512)
    assert np.all(np.isclose(norms, 1.0, atol=1e-5) | (norms == 0))


def test_hashing_is_deterministic_and_case_insensitive() -> None:
    first = HashingEmbedder().embed_now(["Reset my PASSWORD please"])
    second = HashingEmbedder().embed_now(["reset my password please"])
    assert np.array_equal(first, second)


def test_hashing_ranks_near_identical_wording_above_a_different_question() -> None:
    rows = HashingEmbedder().embed_now(
        [
            "How do I reset my password?",
            "how can i reset my password",
            "How do I reset my router?",
            "What are your opening hours?",
        ]
    )
    assert similarity(rows, 0, 1) > similarity(rows, 0, 2) > similarity(rows, 0, 3)
    assert similarity(rows, 0, 3) < 0.2


def test_hashing_word_order_counts() -> None:
    rows = HashingEmbedder().embed_now(["flights from Paris to Rome", "flights from Rome to Paris"])
    assert similarity(rows, 0, 1) < 0.99


def test_text_without_words_embeds_to_zeros() -> None:
    assert not HashingEmbedder().embed_now(["?!  ..."]).any()


async def test_long_text_is_hashed_off_the_loop_with_the_same_result() -> None:
    embedder = HashingEmbedder()
    text = "the quick brown fox jumps over the lazy dog " * 200
    assert np.array_equal(await embedder.embed([text]), embedder.embed_now([text]))


def test_hashing_needs_enough_dimensions() -> None:
    with pytest.raises(ValueError):
        HashingEmbedder(8)


async def test_callable_embedder_normalises() -> None:
    async def fn(texts: list[str]) -> list[list[float]]:
        return [[3.0, 4.0, 0.0] for _ in texts]

    rows = await CallableEmbedder("remote", 3, fn).embed(["a", "b"])
    assert rows.dtype == np.float32
    assert np.allclose(rows, [[0.6, 0.8, 0.0], [0.6, 0.8, 0.0]])


@pytest.mark.parametrize(
    "vectors",
    [[[1.0, 0.0, 0.0]], [[1.0, 0.0], [1.0, 0.0]], [[1.0, 0.0, 0.0], [float("nan"), 0.0, 0.0]]],
    ids=["too-few", "wrong-length", "nan"],
)
async def test_callable_embedder_rejects_bad_output(vectors: list[list[float]]) -> None:
    async def fn(texts: list[str]) -> list[list[float]]:
        return vectors

    with pytest.raises(EmbeddingError):
        await CallableEmbedder("remote", 3, fn).embed(["a", "b"])


async def test_callable_embedder_skips_empty_batches() -> None:
    async def fn(texts: list[str]) -> list[list[float]]:
        raise AssertionError("not called for nothing")

    assert (await CallableEmbedder("remote", 4, fn).embed([])).shape == (0, 4)


def test_normalise_rows_keeps_zero_rows() -> None:
    rows = normalise_rows([[0.0, 0.0], [0.0, 2.0]])
    assert np.array_equal(rows, [[0.0, 0.0], [0.0, 1.0]])


def test_build_embedder() -> None:
    assert isinstance(build_embedder("hashing"), HashingEmbedder)
    assert build_embedder("auto").dimensions in (384, 512)
    with pytest.raises(ValueError, match="unknown embedder"):
        build_embedder("word2vec")


def test_recommended_thresholds_exist_for_the_built_in_embedders() -> None:
    threshold = recommended_threshold(HashingEmbedder())
    assert threshold is not None and 0 < threshold <= 1
    assert recommended_threshold(CallableEmbedder("remote", 3, _never)) is None


def test_missing_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(LocalMiniLM, "PACKAGE", "keel_no_such_package")
    with pytest.raises(EmbedderUnavailable, match=r"pip install 'keel\[embeddings\]'"):
        LocalMiniLM()
    assert isinstance(build_embedder("auto"), HashingEmbedder)


async def _never(texts: list[str]) -> list[list[float]]:
    raise AssertionError("not called")
