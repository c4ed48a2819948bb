"""An incident event: what happened, how bad, where, and which request showed it — never the data itself."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Severity = Literal["sev1", "sev2", "sev3"]


@dataclass(frozen=True, slots=True)
class IncidentEvent:
    severity: Severity
    kind: str  # "pii_leak", ...
    summary: str
    route: str | None = None
    request_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    """Counts and kinds (``{"EMAIL": 1}``), guard names; no found text."""
    event_id: str = field(default_factory=lambda: f"inc_{secrets.token_hex(6)}")
    ts: float = field(default_factory=time.time)


class IncidentStore(Protocol):
    async def record(self, event: IncidentEvent) -> None: ...

    async def recent(self, limit: int = 100) -> list[IncidentEvent]: ...
