"""The prompt-injection guard: score the prompt's messages and block (or flag) above a threshold.

User messages carry direct attacks; tool results and retrieved documents carry indirect ones, so both
are scored by default. The detector (see ``keel.guards.injection``) is loaded once per process and
shared; long conversations are scored up to ``max_chars`` from the end, where new input arrives.
"""

from __future__ import annotations

from collections import Counter
from typing import ClassVar, Literal

from pydantic import Field

from keel.config.base import StrictModel
from keel.guards.base import Finding, Guard, GuardParams, GuardResources, GuardState, Json, Outcome
from keel.guards.injection.detector import InjectionDetector
from keel.guards.texts import message_texts


class InjectionParams(GuardParams):
    threshold: float | None = Field(default=None, ge=0, le=1)
    """Score at or above which a prompt is an attack; default: the detector's validated threshold."""
    action: Literal["block", "flag"] = "block"
    roles: tuple[str, ...] = ("user", "tool")
    max_chars: int = Field(default=20_000, gt=0)


_DETECTOR: InjectionDetector | None = None


def _detector() -> InjectionDetector:
    global _DETECTOR
    if _DETECTOR is None:
        _DETECTOR = InjectionDetector()
    return _DETECTOR


class InjectionGuard(Guard):
    Params: ClassVar[type[StrictModel]] = InjectionParams
    description: ClassVar[str] = "Prompt injection and jailbreaks: a layered score with a threshold."

    def __init__(self, name: str, params: StrictModel, resources: GuardResources) -> None:
        super().__init__(name, params, resources)
        assert isinstance(params, InjectionParams)
        self.p = params
        self._detector = _detector()
        self._threshold = self._detector.threshold if params.threshold is None else params.threshold

    async def check_input(self, body: Json, state: GuardState) -> Outcome:
        texts = list(message_texts(body, set(self.p.roles)))
        budget, scored = self.p.max_chars, []
        for text in reversed(texts):  # newest first: that is where an attack arrives
            if budget <= 0:
                break
            scored.append(text[-budget:])
            budget -= len(text)
        best, signals = 0.0, []
        for text in scored:
            result = self._detector.score(text)
            if result.score > best:
                best, signals = result.score, result.signals
        if best < self._threshold:
            return Outcome(self.verdict("input", score=best))
        kinds = Counter(signal.split(":", 1)[0] for signal in signals)
        details = {kind: ", ".join(s for s in signals if s.startswith(kind + ":"))[:160] for kind in kinds}
        findings = tuple(Finding(kind, count, detail=details[kind]) for kind, count in sorted(kinds.items())) or (
            Finding("injection", score=best),
        )
        message = f"the request looks like a prompt injection (score {best:.2f} ≥ {self._threshold:.2f})"
        return Outcome(self.verdict("input", self.p.action, findings, score=best, message=message))
