"""Declared types for mapped values: text from XML, CSV and forms becomes numbers, booleans and dates.

    integer  42, "42", " +42 ", "42.000" -> 42        (42.5, "4x", true are errors)
    number   19.9, "19.90" -> 19.9; "20" -> 20        (no NaN or infinity; no decimal comma)
    boolean  true/false; "true" "1" "yes" "y" "on" -> True; "false" "0" "no" "n" "off" -> False
             (any case); the integers 1 and 0
    string   text as is; numbers and booleans as written in JSON ("10", "1.5", "true")
    date     "2024-03-01", "20240301", or an ISO 8601 date-time whose date part is kept -> "2024-03-01"

Coercion never guesses: a value that does not read cleanly as the declared type is a violation.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, Literal

from keel.guards.contracts.errors import shown

ValueType = Literal["integer", "number", "boolean", "string", "date"]

_INTEGER = re.compile(r"[+-]?\d+(\.0*)?")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_TRUE = frozenset({"true", "1", "yes", "y", "on"})
_FALSE = frozenset({"false", "0", "no", "n", "off"})


def coerce(value: Any, kind: ValueType) -> Any:
    """``value`` as ``kind``; a ``ValueError`` carries the problem to report."""
    if isinstance(value, dict | list):
        raise ValueError(f"expected a single {kind} value, got {'an object' if isinstance(value, dict) else 'a list'}")
    return _COERCERS[kind](value)


def _integer(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        try:
            return int(value.strip().split(".")[0])
        except ValueError:  # more digits than Python converts
            pass
    raise ValueError(f"{shown(value)} is not an integer")


def _number(value: Any) -> int | float:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return value
    if isinstance(value, str):
        text = value.strip()
        if _NUMBER.fullmatch(text):
            if text.lstrip("+-").isdigit():
                try:
                    return int(text)
                except ValueError:
                    pass
            number = float(text)
            if math.isfinite(number):
                return number
    raise ValueError(f"{shown(value)} is not a number")


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return value == 1
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise ValueError(f"{shown(value)} is not a boolean (true/false, 1/0, yes/no, on/off)")


def _string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise ValueError(f"{shown(value)} is not a string")


def _date(value: Any) -> str:
    if isinstance(value, str):
        text = value.strip()
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            pass
        try:
            return datetime.fromisoformat(text).date().isoformat()
        except ValueError:
            pass
    raise ValueError(f"{shown(value)} is not a date (YYYY-MM-DD)")


_COERCERS: dict[ValueType, Callable[[Any], Any]] = {
    "integer": _integer,
    "number": _number,
    "boolean": _boolean,
    "string": _string,
    "date": _date,
}
