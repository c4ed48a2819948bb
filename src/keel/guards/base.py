"""What a guard is: one small interface, its verdict, and the per-request state guards share.

A guard checks what goes into a model (the ``input`` stage: the request body) or what comes out of it
(the ``output`` stage: the answer), and returns a ``Verdict`` — which guard, what it found, what it did —
plus, when it changed something, the new body. Verdicts are what the request log, the response headers
and the metrics show; they never carry the text that was found, only its kind and count.

Users add guards by writing a class with a ``Params`` model (its manifest: the parameters a route may
set, with their types and defaults) and the two check methods, and naming it in the config as
``plugin: package.module:ClassName``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import aiohttp

from keel.config.base import StrictModel

Stage = Literal["input", "output"]
Action = Literal["allow", "flag", "redact", "block", "retry", "fallback"]
Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Finding:
    """One kind of thing a guard found: an entity type, a rule, a signal. Never the matched text."""

    kind: str
    count: int = 1
    score: float | None = None
    detail: str = ""

    def to_json(self) -> Json:
        data: Json = {"kind": self.kind, "count": self.count}
        if self.score is not None:
            data["score"] = round(self.score, 4)
        if self.detail:
            data["detail"] = self.detail
        return data


@dataclass(slots=True)
class Verdict:
    guard: str
    stage: Stage
    action: Action = "allow"
    findings: tuple[Finding, ...] = ()
    score: float | None = None
    latency_ms: float = 0.0
    error: str | None = None
    """Set when the guard crashed or timed out; ``action`` is then what the route's ``on_error`` chose."""
    message: str = ""
    """For a block: the reason given to the caller (no found text)."""

    def to_json(self) -> Json:
        data: Json = {
            "guard": self.guard,
            "stage": self.stage,
            "action": self.action,
            "findings": [f.to_json() for f in self.findings],
            "latency_ms": round(self.latency_ms, 3),
        }
        if self.score is not None:
            data["score"] = round(self.score, 4)
        if self.error is not None:
            data["error"] = self.error
        return data

    def header(self) -> str:
        """``pii=redact(EMAIL:2)``: the compact form for ``x-keel-guards``."""
        found = ",".join(f"{f.kind}:{f.count}" for f in self.findings)
        return f"{self.guard}={self.action}" + (f"({found})" if found else "")


@dataclass(slots=True)
class GuardState:
    """What the guards of one request share: the PII placeholders of the input, for restoring the answer,
    and the output stage's one retry."""

    route: str
    placeholders: dict[str, str] = field(default_factory=dict)
    """``<EMAIL_1>`` → the original; held in memory for this request only, never logged or stored."""
    restore_placeholders: bool = False
    retried: bool = False
    """The answer has already been asked for again once (a validator's re-ask or retry)."""
    reask: list[Json] | None = None
    """Messages for the retry: the conversation, the failed answer and what was wrong with it."""


@dataclass(slots=True)
class Outcome:
    """A guard's verdict and, when it rewrote it, the new request body (input) or answer (output)."""

    verdict: Verdict
    body: Json | None = None


class GuardParams(StrictModel):
    """Parameters every guard accepts; a guard's own ``Params`` extends this."""


@dataclass(frozen=True, slots=True)
class GuardResources:
    """What the gateway lends guards: the config file's directory (for relative paths), its HTTP session,
    and objects the guards of a process share (database engines), closed with the gateway."""

    base_dir: Path
    session: aiohttp.ClientSession | None = None
    shared: dict[str, Any] = field(default_factory=dict)


class Guard:
    """Override ``check_input`` and/or ``check_output``; a stage a guard does not override is skipped."""

    Params: ClassVar[type[StrictModel]] = GuardParams
    description: ClassVar[str] = ""

    def __init__(self, name: str, params: StrictModel, resources: GuardResources) -> None:
        self.name = name
        self.params = params
        self.resources = resources

    async def aclose(self) -> None:
        """Release what the guard holds (connections, files); the default holds nothing."""

    @classmethod
    def prepare(cls, params: StrictModel, base_dir: Path) -> StrictModel:
        """Finish the parameters when the config loads (read files named relative to ``base_dir``);
        raise ``ValueError`` to report a problem as a config error. The default changes nothing."""
        return params

    def verdict(
        self, stage: Stage, action: Action = "allow", findings: tuple[Finding, ...] = (), **extra: Any
    ) -> Verdict:
        return Verdict(self.name, stage, action, findings, **extra)

    async def check_input(self, body: Json, state: GuardState) -> Outcome:
        raise NotImplementedError

    async def check_output(self, request: Json, answer: Json, state: GuardState) -> Outcome:
        raise NotImplementedError

    @classmethod
    def stages(cls) -> frozenset[Stage]:
        stages: set[Stage] = set()
        if cls.check_input is not Guard.check_input:
            stages.add("input")
        if cls.check_output is not Guard.check_output:
            stages.add("output")
        return frozenset(stages)
