"""Topic clusters: k-means centroids fitted on the baseline's embedding sample, one category per centroid.

A prompt's topic is its nearest centroid by cosine similarity (vectors are L2-normalised before
fitting and assigning), reported as ``t0`` .. ``t{k-1}``. The share of prompts per topic is then a
categorical feature like any other, so a new kind of question shows up as a topic whose share moved.
Fitting is k-means++ seeding and Lloyd iterations with a fixed seed, so a replay gives the same topics.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from keel.monitor.drift.codec import decode_array, encode_array

DEFAULT_TOPICS = 8
_ITERATIONS = 50


def _normalised(vectors: npt.ArrayLike) -> npt.NDArray[np.float64]:
    rows = np.asarray(vectors, dtype=np.float64)
    rows = rows.reshape(1, -1) if rows.ndim == 1 else rows
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms > 0.0, norms, 1.0)


class TopicModel:
    def __init__(self, centroids: npt.NDArray[np.float64]) -> None:
        self.centroids = np.asarray(centroids, dtype=np.float64)

    @classmethod
    def fit(cls, sample: npt.ArrayLike, topics: int = DEFAULT_TOPICS, seed: int = 0) -> TopicModel:
        points = _normalised(sample)
        k = min(topics, points.shape[0])
        if k < 1:
            raise ValueError("fitting topics needs at least one embedding")
        rng = np.random.default_rng(seed)
        centroids = points[[int(rng.integers(points.shape[0]))]]
        while centroids.shape[0] < k:
            nearest = np.min(((points[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2), axis=1)
            if nearest.sum() <= 0.0:
                break  # fewer distinct points than topics
            pick = int(rng.choice(points.shape[0], p=nearest / nearest.sum()))
            centroids = np.vstack([centroids, points[pick]])
        for _ in range(_ITERATIONS):
            labels = np.argmax(points @ centroids.T, axis=1)
            moved = centroids.copy()
            for index in range(centroids.shape[0]):
                members = points[labels == index]
                if members.shape[0]:
                    moved[index] = members.mean(axis=0)
            moved = _normalised(moved)
            if np.allclose(moved, centroids):
                break
            centroids = moved
        return cls(centroids)

    def assign_many(self, vectors: npt.ArrayLike) -> list[str]:
        labels = np.argmax(_normalised(vectors) @ self.centroids.T, axis=1)
        return [f"t{int(label)}" for label in labels]

    def assign(self, vector: npt.ArrayLike) -> str:
        return self.assign_many(vector)[0]

    def to_dict(self) -> dict[str, Any]:
        return {"centroids": encode_array(self.centroids)}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> TopicModel:
        return cls(decode_array(state["centroids"]))
