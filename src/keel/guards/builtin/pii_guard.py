"""The PII guard: find personal data and secrets in prompts and answers; redact, block or flag them.

Input: each entity type's action applies (``actions`` overrides ``action`` per type); a block wins over
a redaction. Redaction uses typed placeholders (``<EMAIL_1>``), the same value getting the same one
throughout the request, and happens before anything is cached, logged or sent upstream. With
``restore: true`` the originals are put back into the answer for the caller who sent them — after the
output guards, so what is logged keeps the placeholders.

Output: personal data in an answer that the caller did not send is a leak: it is redacted (masked),
blocked or flagged, and recorded as a Sev-1 incident event.
"""

from __future__ import annotations

from collections import Counter
from typing import ClassVar, Literal

from pydantic import Field, field_validator

from keel.config.base import StrictModel
from keel.guards.base import Finding, Guard, GuardParams, GuardResources, GuardState, Json, Outcome
from keel.guards.pii.detector import DEFAULT_MIN_SCORE, PiiDetector
from keel.guards.pii.entities import ALL_ENTITIES, PiiSpan
from keel.guards.pii.redact import redact
from keel.guards.texts import answer_texts, message_texts, rewrite_answer, rewrite_messages

PiiAction = Literal["redact", "block", "flag"]
_STRONGEST_FIRST: tuple[PiiAction, ...] = ("block", "redact", "flag")


class PiiParams(GuardParams):
    action: PiiAction = "redact"
    actions: dict[str, PiiAction] = Field(default_factory=dict)
    """Per entity type, e.g. ``{CREDIT_CARD: block}``; the others take ``action``."""
    entities: tuple[str, ...] = tuple(sorted(ALL_ENTITIES))
    min_score: float = Field(default=DEFAULT_MIN_SCORE, ge=0, le=1)
    restore: bool = False
    """Put the originals back into the answer for the same caller (input stage)."""
    roles: tuple[str, ...] = ("system", "developer", "user", "assistant", "tool")

    @field_validator("entities")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - ALL_ENTITIES)
        if unknown:
            raise ValueError(f"unknown entity types {unknown}; known: {sorted(ALL_ENTITIES)}")
        return value

    @field_validator("actions")
    @classmethod
    def _known_keys(cls, value: dict[str, PiiAction]) -> dict[str, PiiAction]:
        unknown = sorted(set(value) - ALL_ENTITIES)
        if unknown:
            raise ValueError(f"unknown entity types {unknown}; known: {sorted(ALL_ENTITIES)}")
        return value


_DETECTORS: dict[tuple[tuple[str, ...], float], PiiDetector] = {}


def _detector(entities: tuple[str, ...], min_score: float) -> PiiDetector:
    # Detectors keep no per-call state and load a name list: one per configuration, shared by routes.
    key = (entities, min_score)
    if key not in _DETECTORS:
        _DETECTORS[key] = PiiDetector(entities, min_score=min_score)
    return _DETECTORS[key]


class PiiGuard(Guard):
    Params: ClassVar[type[StrictModel]] = PiiParams
    description: ClassVar[str] = "Personal data and secrets: redact with typed placeholders, block or flag."

    def __init__(self, name: str, params: StrictModel, resources: GuardResources) -> None:
        super().__init__(name, params, resources)
        assert isinstance(params, PiiParams)
        self.p = params
        self._detector = _detector(params.entities, params.min_score)

    async def check_input(self, body: Json, state: GuardState) -> Outcome:
        roles = set(self.p.roles)
        found = [span for text in message_texts(body, roles) for span in self._detector.detect(text)]
        if not found:
            return Outcome(self.verdict("input"))
        action = self._action(found)
        findings = _findings(found)
        if action == "block":
            kinds = ", ".join(f.kind for f in findings)
            return Outcome(self.verdict("input", "block", findings, message=f"the request contains {kinds}"))
        if action == "flag":
            return Outcome(self.verdict("input", "flag", findings))
        flagged_only = {e for e, a in self.p.actions.items() if a == "flag"}

        def scrub(text: str) -> str:
            spans = [s for s in self._detector.detect(text) if s.entity not in flagged_only]
            if not spans:
                return text
            redaction = redact(text, spans, mapping=state.placeholders)
            state.placeholders.update(redaction.mapping)
            return redaction.text

        new_body = rewrite_messages(body, scrub, roles)
        state.restore_placeholders = state.restore_placeholders or self.p.restore
        return Outcome(self.verdict("input", "redact", findings), new_body)

    async def check_output(self, request: Json, answer: Json, state: GuardState) -> Outcome:
        found = [span for text in answer_texts(answer) for span in self._detector.detect(text)]
        if not found:
            return Outcome(self.verdict("output"))
        action = self._action(found)
        findings = _findings(found)
        if action == "block":
            return Outcome(self.verdict("output", "block", findings, message="the answer contained personal data"))
        if action == "flag":
            return Outcome(self.verdict("output", "flag", findings))

        def mask(text: str) -> str:
            spans = self._detector.detect(text)
            return redact(text, spans, style="mask").text if spans else text

        return Outcome(self.verdict("output", "redact", findings), rewrite_answer(answer, mask))

    def _action(self, spans: list[PiiSpan]) -> PiiAction:
        actions = {self.p.actions.get(span.entity, self.p.action) for span in spans}
        return next(action for action in _STRONGEST_FIRST if action in actions)


def _findings(spans: list[PiiSpan]) -> tuple[Finding, ...]:
    counts = Counter(span.entity for span in spans)
    return tuple(Finding(entity, count) for entity, count in sorted(counts.items()))
