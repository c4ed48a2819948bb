"""The sketches of one window (baseline or current) of one route's traffic.

A feature's kind is fixed by the first value it gets: numbers make it numeric, strings categorical;
later values of the other kind are ignored (a field that is sometimes a number and sometimes a string
is watched as whichever came first). Booleans count as the categories "true" and "false". Category
names are cut to 64 characters and at most ``max_features`` features are tracked, so a window's memory
does not depend on the traffic.

In the baseline window numeric features go to quantile sketches; in the current window to histograms
on the baseline's edges, except fields the baseline never had, which get quantile sketches of their own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from keel.monitor.drift.config import DriftConfig
from keel.monitor.drift.quantiles import QuantileSketch
from keel.monitor.drift.reservoir import EmbeddingSketch
from keel.monitor.drift.sketches import CategoricalSketch, NumericSketch

MAX_CATEGORY_NAME = 64


def category(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return (value if isinstance(value, str) else str(value))[:MAX_CATEGORY_NAME]


class Window:
    def __init__(self, config: DriftConfig) -> None:
        self.config = config
        self.requests = 0
        self.quantiles: dict[str, QuantileSketch] = {}
        self.histograms: dict[str, NumericSketch] = {}
        self.categorical: dict[str, CategoricalSketch] = {}
        self.embeddings: EmbeddingSketch | None = None

    @classmethod
    def following(
        cls, config: DriftConfig, reference: Mapping[str, NumericSketch], categorical: Mapping[str, CategoricalSketch]
    ) -> Window:
        """An empty window binned like the baseline: its histograms' edges, its categories."""
        window = cls(config)
        window.histograms = {name: sketch.empty_like() for name, sketch in reference.items()}
        window.categorical = {name: sketch.empty_like() for name, sketch in categorical.items()}
        return window

    def _has_room(self) -> bool:
        return len(self.quantiles) + len(self.histograms) + len(self.categorical) < self.config.max_features

    def _categorical_sketch(self, name: str) -> CategoricalSketch | None:
        sketch = self.categorical.get(name)
        if sketch is None and name not in self.histograms and name not in self.quantiles and self._has_room():
            sketch = self.categorical[name] = CategoricalSketch(self.config.max_categories)
        return sketch

    def _numeric_sketch(self, name: str) -> NumericSketch | QuantileSketch | None:
        histogram = self.histograms.get(name)
        if histogram is not None:
            return histogram
        sketch = self.quantiles.get(name)
        if sketch is None and name not in self.categorical and self._has_room():
            sketch = self.quantiles[name] = QuantileSketch(self.config.accuracy)
        return sketch

    def add(self, name: str, value: float | str | bool | None) -> None:
        if value is None:
            return
        if isinstance(value, str | bool):
            categorical = self._categorical_sketch(name)
            if categorical is not None:
                categorical.add(category(value))
            return
        numeric = self._numeric_sketch(name)
        if numeric is not None:
            numeric.add(float(value))

    def add_numeric_many(self, name: str, values: npt.NDArray[np.float64]) -> None:
        """Add a column of numbers; NaN marks a request without the feature."""
        numeric = self._numeric_sketch(name)
        if numeric is not None:
            numeric.add_many(values)

    def add_categorical_many(self, name: str, values: Iterable[object] | npt.NDArray[Any]) -> None:
        """Add a column of categories; None marks a request without the feature.

        Values are counted first (in C) and converted once per distinct value; ``Counter`` keeps the
        first-seen order, so categories are admitted as one-by-one ``add`` calls would admit them.
        """
        counts = Counter(values.tolist() if isinstance(values, np.ndarray) else values)
        counts.pop(None, None)
        categorical = self._categorical_sketch(name) if counts else None
        if categorical is not None:
            for value, times in counts.items():
                categorical.add(category(value), times)

    def add_embeddings(self, vectors: npt.ArrayLike) -> None:
        rows = np.asarray(vectors, dtype=np.float32)
        rows = rows.reshape(1, -1) if rows.ndim == 1 else rows
        if self.embeddings is None:
            self.embeddings = EmbeddingSketch(rows.shape[1], self.config.reservoir_size, self.config.seed)
        self.embeddings.add_many(rows)

    def merge(self, other: Window) -> None:
        self.requests += other.requests
        for name, histogram in other.histograms.items():
            mine = self.histograms.get(name)
            if mine is not None:
                mine.merge(histogram)
            elif self._has_room():
                self.histograms[name] = NumericSketch.from_dict(histogram.to_dict())
        for name, quantiles in other.quantiles.items():
            own = self.quantiles.get(name)
            if own is not None:
                own.merge(quantiles)
            elif name not in self.categorical and self._has_room():
                self.quantiles[name] = QuantileSketch.from_dict(quantiles.to_dict())
        for name, categorical in other.categorical.items():
            known = self.categorical.get(name)
            if known is not None:
                known.merge(categorical)
            elif name not in self.quantiles and name not in self.histograms and self._has_room():
                self.categorical[name] = CategoricalSketch.from_dict(categorical.to_dict())
        if other.embeddings is not None:
            if self.embeddings is None:
                self.embeddings = EmbeddingSketch.from_dict(other.embeddings.to_dict())
            else:
                self.embeddings.merge(other.embeddings)

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "quantiles": {name: sketch.to_dict() for name, sketch in self.quantiles.items()},
            "histograms": {name: sketch.to_dict() for name, sketch in self.histograms.items()},
            "categorical": {name: sketch.to_dict() for name, sketch in self.categorical.items()},
            "embeddings": None if self.embeddings is None else self.embeddings.to_dict(),
        }

    @classmethod
    def from_dict(cls, config: DriftConfig, state: dict[str, Any]) -> Window:
        window = cls(config)
        window.requests = int(state["requests"])
        window.quantiles = {name: QuantileSketch.from_dict(s) for name, s in state["quantiles"].items()}
        window.histograms = {name: NumericSketch.from_dict(s) for name, s in state["histograms"].items()}
        window.categorical = {name: CategoricalSketch.from_dict(s) for name, s in state["categorical"].items()}
        embeddings = state["embeddings"]
        window.embeddings = None if embeddings is None else EmbeddingSketch.from_dict(embeddings)
        return window
