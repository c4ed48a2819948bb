"""The kinds of personal data the detector knows, and the span it reports for each finding.

Entity names are upper-case strings so that they read the same in config, placeholders (``<EMAIL_1>``)
and logs. ``DATE_TIME`` is deliberately absent: a date alone identifies nobody, and redacting every date
would break the many prompts that are about schedules.
"""

from __future__ import annotations

from dataclasses import dataclass

EMAIL = "EMAIL"
PHONE_NUMBER = "PHONE_NUMBER"
CREDIT_CARD = "CREDIT_CARD"
IBAN = "IBAN"
US_SSN = "US_SSN"
IP_ADDRESS = "IP_ADDRESS"
SECRET = "SECRET"
PERSON = "PERSON"
STREET_ADDRESS = "STREET_ADDRESS"

ALL_ENTITIES: frozenset[str] = frozenset(
    {EMAIL, PHONE_NUMBER, CREDIT_CARD, IBAN, US_SSN, IP_ADDRESS, SECRET, PERSON, STREET_ADDRESS}
)


@dataclass(frozen=True, slots=True)
class PiiSpan:
    """One finding: ``text[start:end]`` is an ``entity``, believed with ``score`` in [0, 1]."""

    entity: str
    start: int
    end: int
    score: float

    @property
    def length(self) -> int:
        return self.end - self.start
