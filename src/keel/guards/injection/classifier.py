"""Logistic regression over hashed n-grams: the statistical layer, trained offline, scored in numpy.

``bench/guards/train_injection.py`` fits it (scikit-learn, on the training split) and ships the result as
plain arrays in ``data/model.npz``: the inverse document frequency of every hash bucket, quantised to one
byte, and the largest weights of the model by magnitude (the rest are dropped; the loss in validation
accuracy is reported by the training script). Scoring one prompt is a sparse dot product.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from keel.guards.injection.features import DIMENSIONS, SparseVector, tfidf


@dataclass(frozen=True, slots=True)
class NgramModel:
    """The inverse document frequencies that weight features, and the classifier over them."""

    idf: npt.NDArray[np.float32]
    weights: npt.NDArray[np.float32]
    bias: float

    @classmethod
    def load(cls, path: Path) -> NgramModel:
        with np.load(path) as data:
            idf = data["idf_quantised"].astype(np.float32) * np.float32(data["idf_step"])
            weights = np.zeros(DIMENSIONS, dtype=np.float32)
            weights[data["weight_index"].astype(np.int64)] = data["weight_value"].astype(np.float32)
            bias = float(data["bias"])
        if idf.shape != (DIMENSIONS,):
            raise ValueError(f"{path}: idf has {idf.shape[0]} buckets, features use {DIMENSIONS}")
        return cls(idf=idf, weights=weights, bias=bias)

    def vector(self, text: str) -> SparseVector:
        """The tf-idf vector of normalised ``text``, shared by the classifier and the attack corpus."""
        return tfidf(text, self.idf)

    def logit(self, vector: SparseVector) -> float:
        """Log-odds that the prompt behind ``vector`` is an attack."""
        return vector.dot(self.weights) + self.bias
