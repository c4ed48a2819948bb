"""The vector index against a brute-force search, through growth, eviction and removal."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keel.cache.semantic import index as index_module
from keel.cache.semantic.index import SemanticIndex, VectorIndex

DIMENSIONS = 16


def unit_vectors(count: int, seed: int) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((count, DIMENSIONS)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return rows


def brute_force(stored: dict[str, np.ndarray], query: np.ndarray, threshold: float) -> tuple[str, float] | None:
    if not stored:
        return None
    scores = {entry_id: float(vector @ query) for entry_id, vector in stored.items()}
    best = max(scores, key=lambda entry_id: scores[entry_id])
    return (best, scores[best]) if scores[best] >= threshold else None


def assert_agrees(index: VectorIndex, stored: dict[str, np.ndarray], queries: np.ndarray, threshold: float) -> None:
    for query in queries:
        expected = brute_force(stored, query, threshold)
        match = index.search(query, threshold)
        if expected is None:
            assert match is None
        else:
            assert match is not None
            assert match.similarity == pytest.approx(expected[1], abs=1e-5)
            assert float(stored[match.entry_id] @ query) == pytest.approx(expected[1], abs=1e-5)


def test_search_matches_brute_force_through_growth() -> None:
    index = VectorIndex(DIMENSIONS, capacity=1000)
    vectors = unit_vectors(300, seed=1)
    stored = {f"e{i}": vector for i, vector in enumerate(vectors)}
    for entry_id, vector in stored.items():
        assert index.add(entry_id, vector) is None
    assert len(index) == 300
    assert_agrees(index, stored, unit_vectors(50, seed=2), threshold=-1.0)
    assert_agrees(index, stored, unit_vectors(50, seed=3), threshold=0.5)


def test_a_stored_vector_finds_itself() -> None:
    index = VectorIndex(DIMENSIONS, capacity=10)
    vectors = unit_vectors(5, seed=4)
    for i, vector in enumerate(vectors):
        index.add(f"e{i}", vector)
    match = index.search(vectors[3], threshold=0.999)
    assert match is not None and match.entry_id == "e3"


def test_threshold_is_inclusive_and_filters() -> None:
    index = VectorIndex(2, capacity=4)
    index.add("x", [1.0, 0.0])
    query = np.array([0.6, 0.8], dtype=np.float32)
    assert index.search(query, threshold=0.6) is not None
    assert index.search(query, threshold=0.61) is None


def test_capacity_evicts_oldest_first() -> None:
    index = VectorIndex(DIMENSIONS, capacity=3)
    vectors = unit_vectors(5, seed=5)
    evicted = [index.add(f"e{i}", vector) for i, vector in enumerate(vectors)]
    assert evicted == [None, None, None, "e0", "e1"]
    assert len(index) == 3
    assert "e0" not in index and "e4" in index
    assert index.oldest() == "e2"


def test_replacing_an_id_renews_it() -> None:
    index = VectorIndex(DIMENSIONS, capacity=2)
    vectors = unit_vectors(4, seed=6)
    index.add("a", vectors[0])
    index.add("b", vectors[1])
    index.add("a", vectors[2])
    assert index.add("c", vectors[3]) == "b"
    match = index.search(vectors[2], 0.999)
    assert match is not None and match.entry_id == "a"


def test_memory_grows_with_entries_and_is_given_back() -> None:
    index = VectorIndex(DIMENSIONS, capacity=10_000)
    vectors = unit_vectors(1000, seed=14)
    stored = {f"e{i}": vector for i, vector in enumerate(vectors)}
    for entry_id, vector in stored.items():
        index.add(entry_id, vector)
    peak = index.nbytes
    assert peak >= 1000 * DIMENSIONS * 4
    for i in range(990):
        index.remove(f"e{i}")
        del stored[f"e{i}"]
    assert index.nbytes <= peak // 8
    assert_agrees(index, stored, unit_vectors(10, seed=15), threshold=-1.0)


def test_search_many_answers_each_query_and_spans_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_module, "_CHUNK_ROWS", 7)
    index = VectorIndex(DIMENSIONS, capacity=100)
    vectors = unit_vectors(50, seed=7)
    stored = {f"e{i}": vector for i, vector in enumerate(vectors)}
    for entry_id, vector in stored.items():
        index.add(entry_id, vector)
    queries = unit_vectors(20, seed=8)
    thresholds = [0.0, 0.9] * 10
    matches = index.search_many(queries, thresholds)
    for query, threshold, match in zip(queries, thresholds, matches, strict=True):
        expected = brute_force(stored, query, threshold)
        assert (match is None) == (expected is None)
        if match is not None and expected is not None:
            assert match.similarity == pytest.approx(expected[1], abs=1e-5)


def test_empty_index_and_bad_shapes() -> None:
    index = VectorIndex(DIMENSIONS, capacity=5)
    assert index.search(unit_vectors(1, seed=9)[0], 0.0) is None
    with pytest.raises(ValueError):
        index.add("x", np.zeros(DIMENSIONS + 1, dtype=np.float32))
    with pytest.raises(ValueError):
        index.search(np.zeros(3, dtype=np.float32), 0.5)
    with pytest.raises(ValueError):
        VectorIndex(DIMENSIONS, capacity=0)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["add", "remove"]), st.integers(min_value=0, max_value=40)),
        max_size=120,
    ),
    st.integers(min_value=1, max_value=12),
)
def test_any_sequence_of_changes_agrees_with_brute_force(operations: list[tuple[str, int]], capacity: int) -> None:
    index = VectorIndex(DIMENSIONS, capacity=capacity)
    pool = unit_vectors(41, seed=10)
    stored: dict[str, np.ndarray] = {}
    for step, (operation, number) in enumerate(operations):
        entry_id = f"e{number}"
        if operation == "add":
            vector = pool[(number + step) % len(pool)]
            if entry_id not in stored and len(stored) >= capacity:
                del stored[next(iter(stored))]
            stored.pop(entry_id, None)
            stored[entry_id] = vector
            index.add(entry_id, vector)
        else:
            assert index.remove(entry_id) == (stored.pop(entry_id, None) is not None)
        assert len(index) == len(stored)
    assert_agrees(index, stored, unit_vectors(5, seed=11), threshold=-1.0)


def test_semantic_index_keeps_partitions_apart() -> None:
    index = SemanticIndex(DIMENSIONS, capacity=10)
    vector = unit_vectors(1, seed=12)[0]
    index.add("route-a", "a1", vector)
    assert index.search("route-b", vector, 0.5) is None
    match = index.search("route-a", vector, 0.5)
    assert match is not None and match.entry_id == "a1"


def test_semantic_index_capacity_is_shared_and_evicts_the_oldest_anywhere() -> None:
    index = SemanticIndex(DIMENSIONS, capacity=3)
    vectors = unit_vectors(4, seed=13)
    assert index.add("a", "a1", vectors[0]) == []
    index.add("b", "b1", vectors[1])
    index.add("b", "b2", vectors[2])
    assert index.add("c", "c1", vectors[3]) == ["a1"]
    assert len(index) == 3
    assert index.partition("a") is None, "an emptied partition is dropped"
    assert index.remove("b1") and not index.remove("b1")
