"""One prompt-injection score from four layers: rules, n-gram classifier, attack corpus, optional embeddings.

Each prompt is normalised (``normalise``), and every readable segment hidden in an encoding (``decode``) or in
Unicode tag characters becomes an extra view, scored the same way; the prompt's score is its worst view's.

A view's score combines the layers with a logistic regression fitted by ``bench/guards/train_injection.py``
on out-of-fold scores of the training split: ``sigmoid(b + w1*classifier_logit + w2*rules + w3*corpus
[+ w4*embedding])``, so the result reads as a probability on that data. The rules' own noisy-OR score is
then a floor under it: the statistical layers know only the attacks in their training data, while a rule
such as "ignore all previous instructions" or a forged ``<|im_start|>`` marks an attack wherever it
appears, for instance buried in a long retrieved document that otherwise looks benign. The default
threshold is the highest within one point of the best macro balanced accuracy (averaged over the public
sets) on out-of-fold training and validation scores: among thresholds the data cannot tell apart, the one
that blocks the fewest legitimate prompts.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from keel.guards.injection.classifier import NgramModel
from keel.guards.injection.corpus import AttackCorpus
from keel.guards.injection.decode import find_encoded
from keel.guards.injection.embedding import EmbeddingCorpus, SentenceEncoder, load_encoder
from keel.guards.injection.heuristics import match_rules
from keel.guards.injection.normalise import normalise

DATA_DIR = Path(__file__).resolve().parent / "data"
CLASSIFIER_SIGNAL = 0.5
CORPUS_SIGNAL = 0.6
EMBEDDING_SIGNAL = 0.75
_LOGIT_CLIP = 12.0


@dataclass(frozen=True, slots=True)
class InjectionResult:
    """How likely a prompt is an injection or jailbreak, and which layers said so."""

    score: float
    """In [0, 1]; compare with ``threshold``."""
    threshold: float
    signals: list[str] = field(default_factory=list)
    """What fired, e.g. ``heuristic:ignore-previous``, ``encoded:base64``, ``classifier:0.91``, ``corpus:0.88``."""

    @property
    def flagged(self) -> bool:
        return self.score >= self.threshold


@dataclass(frozen=True, slots=True)
class Combination:
    """The fitted logistic combination of layer scores and the threshold chosen on validation."""

    coefficients: tuple[float, ...]
    intercept: float
    threshold: float

    @classmethod
    def read(cls, path: Path, variant: str) -> Combination:
        entry = json.loads(path.read_text())["variants"][variant]
        return cls(tuple(entry["coefficients"]), float(entry["intercept"]), float(entry["threshold"]))

    def probability(self, scores: tuple[float, ...]) -> float:
        z = self.intercept + sum(w * s for w, s in zip(self.coefficients, scores, strict=True))
        return 1.0 / (1.0 + math.exp(-z))


class InjectionDetector:
    """Scores prompts for injection; build once (it loads about 1.2 MB of arrays) and share.

    ``semantic=True`` adds the embedding layer, which needs the ``embeddings`` extra (or pass ``encoder``).
    ``threshold`` overrides the validated default; ``data_dir`` points at other trained data.
    """

    def __init__(
        self,
        *,
        threshold: float | None = None,
        semantic: bool = False,
        encoder: SentenceEncoder | None = None,
        data_dir: Path = DATA_DIR,
    ) -> None:
        self._model = NgramModel.load(data_dir / "model.npz")
        self._corpus = AttackCorpus.load(data_dir / "model.npz")
        self._embeddings: EmbeddingCorpus | None = None
        if semantic or encoder is not None:
            self._embeddings = EmbeddingCorpus.load(data_dir / "corpus_embeddings.npz", encoder or load_encoder())
        variant = "semantic" if self._embeddings is not None else "lexical"
        self._combination = Combination.read(data_dir / "calibration.json", variant)
        self.threshold = self._combination.threshold if threshold is None else threshold
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold}")

    def score(self, text: str) -> InjectionResult:
        normalised = normalise(text)
        signals = [f"obfuscation:{name}" for name in normalised.obfuscations]
        best = self._score_view(normalised.text, signals)
        hidden = [("unicode-tags", normalised.hidden_text)] if normalised.hidden_text else []
        hidden += [(d.encoding, d.text) for d in find_encoded(text)]
        for encoding, decoded in hidden:
            signals.append(f"encoded:{encoding}")
            best = max(best, self._score_view(normalise(decoded).text, signals))
        return InjectionResult(score=best, threshold=self.threshold, signals=list(dict.fromkeys(signals)))

    def _score_view(self, text: str, signals: list[str]) -> float:
        if not text:
            return 0.0
        rules = match_rules(text)
        vector = self._model.vector(text)
        logit = max(-_LOGIT_CLIP, min(_LOGIT_CLIP, self._model.logit(vector)))
        similarity = self._corpus.max_containment(vector)
        scores: tuple[float, ...] = (logit, rules.score, similarity)
        semantic = self._embeddings.max_similarity(text) if self._embeddings is not None else None
        if semantic is not None:
            scores += (semantic,)
        combined = max(self._combination.probability(scores), rules.score)
        # A flagged view names every layer's score; an unflagged one only the layers that stood out.
        loud = combined >= self.threshold
        signals.extend(f"heuristic:{name}" for name in rules.names)
        classifier = 1.0 / (1.0 + math.exp(-logit))
        if loud or classifier >= CLASSIFIER_SIGNAL:
            signals.append(f"classifier:{classifier:.2f}")
        if loud or similarity >= CORPUS_SIGNAL:
            signals.append(f"corpus:{similarity:.2f}")
        if semantic is not None and (loud or semantic >= EMBEDDING_SIGNAL):
            signals.append(f"embedding:{semantic:.2f}")
        return combined
