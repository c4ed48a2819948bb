"""A nearest-neighbour vote over labelled prompts: "requests like this one were handled by tier X".

Rules catch the obvious strong requests (long, tool-using, flagged words); what is left is mostly
short questions, and whether a short question is a lookup or needs reasoning is a matter of wording.
A file of example prompts labelled with the tier that should serve them captures that wording. Each
example is embedded once at start-up into one matrix; a request costs one embedding and one
matrix-vector product, and its ``k`` most similar examples (cosine similarity, as the rows are unit
length) vote for their tiers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import orjson

Embed = Callable[[Sequence[str]], Awaitable[npt.NDArray[np.float32]]]
"""Texts in, one L2-normalised float32 row per text out (the semantic cache's embedder fits)."""

_BUILD_BATCH = 256
_FIELDS = frozenset({"text", "tier"})


@dataclass(frozen=True, slots=True)
class LabelledExample:
    text: str
    tier: str
    tier_index: int
    """The tier's position among the route's tiers, cheapest first."""


def load_examples(path: str | Path, tier_names: Sequence[str]) -> list[LabelledExample]:
    """Read ``{"text": ..., "tier": ...}`` lines; blank lines are skipped.

    Raises ``ValueError`` naming the file and line for a line that is not such an object, has an empty
    text or names a tier the route does not have, and for a file with no examples.
    """
    index_of = {name: i for i, name in enumerate(tier_names)}
    examples: list[LabelledExample] = []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                examples.append(_parse(line, index_of))
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: {exc}") from None
    if not examples:
        raise ValueError(f"{path}: no examples")
    return examples


def _parse(line: str, index_of: Mapping[str, int]) -> LabelledExample:
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg})") from None
    if not isinstance(record, dict):
        raise ValueError('expected an object like {"text": "...", "tier": "..."}')
    unknown = sorted(set(record) - _FIELDS)
    if unknown:
        raise ValueError(f"unknown keys {unknown}; an example has only 'text' and 'tier'")
    text, tier = record.get("text"), record.get("tier")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("'text' must be a non-empty string")
    if not isinstance(tier, str):
        raise ValueError("'tier' must be a string")
    if tier not in index_of:
        raise ValueError(f"unknown tier {tier!r}; the route's tiers are {list(index_of)}")
    return LabelledExample(text, tier, index_of[tier])


class NearestNeighbours:
    """The labelled examples as unit vectors; ``vote`` finds a text's ``k`` nearest and counts their tiers."""

    def __init__(
        self,
        vectors: npt.NDArray[np.float32],
        labels: npt.NDArray[np.intp],
        names: Mapping[int, str],
        k: int,
        embed: Embed,
    ) -> None:
        if vectors.ndim != 2 or vectors.shape[0] != labels.shape[0] or vectors.shape[0] == 0:
            raise ValueError("need one vector per label and at least one example")
        if k <= 0:
            raise ValueError("k must be positive")
        self._vectors = vectors
        self._labels = labels
        self._names = dict(names)
        self._tiers = int(labels.max()) + 1
        self._k = min(k, vectors.shape[0])
        self._embed = embed

    @classmethod
    async def build(cls, examples: Sequence[LabelledExample], embed: Embed, k: int) -> NearestNeighbours:
        """Embed every example (in batches) and keep ``embed`` for the requests to come."""
        if not examples:
            raise ValueError("need at least one labelled example")
        names: dict[int, str] = {}
        for example in examples:
            known = names.setdefault(example.tier_index, example.tier)
            if known != example.tier:
                raise ValueError(f"tier index {example.tier_index} is labelled both {known!r} and {example.tier!r}")
        batches = []
        for start in range(0, len(examples), _BUILD_BATCH):
            texts = [example.text for example in examples[start : start + _BUILD_BATCH]]
            batch = np.asarray(await embed(texts), dtype=np.float32)
            if batch.ndim != 2 or batch.shape[0] != len(texts):
                raise ValueError(f"the embedder returned shape {batch.shape} for {len(texts)} texts")
            batches.append(batch)
        labels = np.fromiter((example.tier_index for example in examples), dtype=np.intp, count=len(examples))
        return cls(np.vstack(batches), labels, names, k, embed)

    async def vote(self, text: str) -> tuple[int, str]:
        """The tier most of the ``k`` nearest examples carry (ties go to the stronger tier), and why."""
        query = np.asarray(await self._embed([text]), dtype=np.float32).reshape(-1)
        scores = self._vectors @ query
        k = self._k
        nearest = self._labels[np.argpartition(scores, -k)[-k:]] if k < scores.shape[0] else self._labels
        counts = np.bincount(nearest, minlength=self._tiers)
        # argmax returns the first maximum; searching the reversed counts sends ties to the stronger tier.
        winner = self._tiers - 1 - int(np.argmax(counts[::-1]))
        return winner, f"neighbours: {counts[winner]} of {k} say {self._names[winner]}"
