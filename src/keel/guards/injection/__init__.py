"""Prompt-injection and jailbreak detection: one score in [0, 1] per prompt, with the signals behind it.

    detector = InjectionDetector()               # loads the shipped model; build once, share
    result = detector.score(prompt)
    if result.flagged:                           # score >= the threshold chosen on validation data
        ...                                      # block, or route for review; result.signals say why

Layers, cheapest first: normalisation and decoding of hidden text, hand-written rules, a hashed n-gram
logistic regression, similarity to known attack prompts, and optionally sentence-embedding similarity
(``InjectionDetector(semantic=True)`` with the ``embeddings`` extra installed). See docs/injection.md.
"""

from keel.guards.injection.detector import InjectionDetector, InjectionResult
from keel.guards.injection.embedding import encoder_available

__all__ = ["InjectionDetector", "InjectionResult", "encoder_available"]
