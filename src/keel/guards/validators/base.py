"""The interface every output validator offers the pipeline."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from keel.guards.validators.config import OnFail
from keel.guards.validators.result import ValidationResult


class Validator(Protocol):
    """Checks the text of one answer (``choices[i].message.content``).

    ``validate`` never raises for a bad answer (that is a result with ``ok=False``); a business rule
    whose data source cannot answer raises ``SourceUnavailable``, and the caller decides whether that
    passes or fails the answer.
    """

    name: str
    on_fail: OnFail
    reask: bool
    """The pipeline re-asks the model once, with ``reask_messages``, before applying ``on_fail``."""

    @property
    def schema(self) -> Mapping[str, Any] | None:
        """The JSON Schema the answer must follow, shown to the model in a re-ask (None if none)."""
        ...

    async def validate(self, answer_text: str) -> ValidationResult: ...
