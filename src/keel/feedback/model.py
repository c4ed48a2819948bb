"""What an application may say about an answer (``POST /v1/feedback``), checked like any request body.

``score`` is in [0, 1] (1 = good; map thumbs up/down to 1/0, five stars to 0, .25, … 1); ``label`` is a
short category of the application's own (``correct``, ``wrong``, ``hallucination``). At least one of
the two is required. ``comment`` is free text: personal data in it is redacted before it is stored.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

from pydantic import Field, model_validator

from keel.config.base import StrictModel


class FeedbackRequest(StrictModel):
    request_id: str = Field(min_length=1, max_length=128)
    score: float | None = Field(default=None, ge=0, le=1)
    label: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[\w.:-]+$")
    comment: str | None = Field(default=None, max_length=4000)

    @model_validator(mode="after")
    def _something(self) -> FeedbackRequest:
        if self.score is None and self.label is None:
            raise ValueError("give a score (0 to 1) or a label")
        return self


@dataclass(frozen=True, slots=True)
class Feedback:
    request_id: str
    score: float | None
    label: str | None
    comment: str | None  # redacted
    key_id: str | None
    feedback_id: str = field(default_factory=lambda: f"fb_{secrets.token_hex(6)}")
    ts: float = field(default_factory=time.time)
