"""PII detection and redaction: find personal data and secrets in text, replace them, put them back.

detector = PiiDetector()                     # all entity types; build once, share
spans = detector.detect(prompt)
redaction = redact(prompt, spans)            # "<EMAIL_1>" for "ada@example.com"
answer = restore(model_answer, redaction.mapping)
"""

from __future__ import annotations

from keel.guards.pii.detector import DEFAULT_MIN_SCORE, DEFAULT_PHONE_REGIONS, PiiDetector, resolve_overlaps
from keel.guards.pii.entities import ALL_ENTITIES, PiiSpan
from keel.guards.pii.redact import Redaction, RedactionStyle, redact
from keel.guards.pii.restore import StreamRestorer, restore

__all__ = [
    "ALL_ENTITIES",
    "DEFAULT_MIN_SCORE",
    "DEFAULT_PHONE_REGIONS",
    "PiiDetector",
    "PiiSpan",
    "Redaction",
    "RedactionStyle",
    "StreamRestorer",
    "redact",
    "resolve_overlaps",
    "restore",
]
