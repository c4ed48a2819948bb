"""What a broken input contract reports: violations at JSON paths, and the one exception that carries them.

``ContractError`` is an ``InvalidRequest``, so the gateway answers it with a 400 in OpenAI's error shape
whose message lists every violation. Values quoted in a problem are cut short: they come from the
client's input, may be long and may hold personal data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from keel.core.errors import InvalidRequest

MAX_VIOLATIONS = 20
"""At most this many violations are reported for one input; the first ones in path order."""
_QUOTE_CHARS = 60
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class Violation:
    """One way the input breaks its contract: where (``$.lines[2].quantity``) and what is wrong."""

    path: str
    problem: str

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


class ContractError(InvalidRequest):
    """The request's structured input cannot be read, mapped or validated against the route's contract."""

    default_code = "input_contract_violation"

    def __init__(self, violations: Sequence[Violation], *, param: str | None = None) -> None:
        if not violations:
            raise ValueError("a ContractError needs at least one violation")
        self.violations = tuple(violations[:MAX_VIOLATIONS])
        """The first ``MAX_VIOLATIONS``, in the order given."""
        self.more = len(violations) - len(self.violations)
        """How many more were found and left out."""
        listed = "; ".join(str(violation) for violation in self.violations)
        if self.more:
            listed += f"; and {self.more} more"
        super().__init__(f"input does not match the contract: {listed}", param=param)


def json_path(location: Sequence[str | int]) -> str:
    """A location in the canonical object as a JSONPath-like string: ``$.lines[2]['unit price']``."""
    parts = ["$"]
    for key in location:
        if isinstance(key, int):
            parts.append(f"[{key}]")
        elif _IDENTIFIER.fullmatch(key):
            parts.append(f".{key}")
        else:
            parts.append("[" + repr(key) + "]")
    return "".join(parts)


def location_order(location: Iterable[str | int]) -> tuple[tuple[int, int, str], ...]:
    """A sort key putting locations in path order, array indices compared as numbers (``[2]`` before ``[10]``)."""
    return tuple((0, key, "") if isinstance(key, int) else (1, 0, key) for key in location)


def shown(value: object) -> str:
    """``repr(value)`` on one line, cut to a short excerpt."""
    text = " ".join(repr(value).split())
    return text if len(text) <= _QUOTE_CHARS else text[: _QUOTE_CHARS - 1] + "…"
