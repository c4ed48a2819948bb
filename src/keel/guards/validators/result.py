"""What a validator returns, and the one rule for quoting an answer inside a problem.

Problems go to logs, metrics labels and re-ask prompts, so they are short and never carry more than a
brief excerpt of the answer (which may hold personal data or be very long).
"""

from __future__ import annotations

from dataclasses import dataclass, field

EXCERPT_CHARS = 60


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """The verdict of one validator on one answer."""

    ok: bool
    validator: str
    """The validator's name, as configured."""
    problems: list[str] = field(default_factory=list)
    """Short, human-readable reasons; empty when ``ok``."""
    entities_checked: int = 0
    """Distinct values looked up in a data source (business rules only)."""


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """``text`` on one line and at most ``limit`` characters, ending in an ellipsis when cut."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return flat[: limit - 1].rstrip() + "…"


def quoted(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The excerpt in single quotes, for embedding in a problem."""
    return f"'{excerpt(text, limit)}'"
