"""Declared types: clean values are converted, anything else is refused with the value quoted."""

from __future__ import annotations

from typing import Any

import pytest

from keel.guards.contracts.coerce import ValueType, coerce


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        ("42", "integer", 42),
        (" +42 ", "integer", 42),
        ("-7", "integer", -7),
        ("2.000", "integer", 2),
        (42, "integer", 42),
        (3.0, "integer", 3),
        ("19.90", "number", 19.9),
        ("20", "number", 20),
        ("-1e3", "number", -1000.0),
        (".5", "number", 0.5),
        (7, "number", 7),
        ("true", "boolean", True),
        ("YES", "boolean", True),
        ("1", "boolean", True),
        ("On", "boolean", True),
        ("n", "boolean", False),
        ("0", "boolean", False),
        (0, "boolean", False),
        (True, "boolean", True),
        ("plain", "string", "plain"),
        (10, "string", "10"),
        (1.5, "string", "1.5"),
        (False, "string", "false"),
        ("2024-03-01", "date", "2024-03-01"),
        ("20240301", "date", "2024-03-01"),
        ("2024-03-01T23:30:00-05:00", "date", "2024-03-01"),
        ("2024-03-01 08:00", "date", "2024-03-01"),
    ],
)
def test_clean_values_are_converted(value: Any, kind: ValueType, expected: Any) -> None:
    converted = coerce(value, kind)
    assert converted == expected
    assert type(converted) is type(expected)


@pytest.mark.parametrize(
    ("value", "kind", "problem"),
    [
        ("4x", "integer", "'4x' is not an integer"),
        ("42.5", "integer", "'42.5' is not an integer"),
        (42.5, "integer", "42.5 is not an integer"),
        (True, "integer", "True is not an integer"),
        ("", "integer", "'' is not an integer"),
        ("19,90", "number", "'19,90' is not a number"),
        ("nan", "number", "'nan' is not a number"),
        ("1e999", "number", "'1e999' is not a number"),
        (float("inf"), "number", "inf is not a number"),
        (False, "number", "False is not a number"),
        ("maybe", "boolean", "'maybe' is not a boolean (true/false, 1/0, yes/no, on/off)"),
        (2, "boolean", "2 is not a boolean (true/false, 1/0, yes/no, on/off)"),
        (None, "string", "None is not a string"),
        ("01/03/2024", "date", "'01/03/2024' is not a date (YYYY-MM-DD)"),
        ("2024-02-30", "date", "'2024-02-30' is not a date (YYYY-MM-DD)"),
        (20240301, "date", "20240301 is not a date (YYYY-MM-DD)"),
        ({"a": 1}, "string", "expected a single string value, got an object"),
        ([1], "integer", "expected a single integer value, got a list"),
        ("x" * 100, "integer", "'" + "x" * 58 + "… is not an integer"),
    ],
)
def test_other_values_are_refused(value: Any, kind: ValueType, problem: str) -> None:
    with pytest.raises(ValueError) as caught:
        coerce(value, kind)
    assert str(caught.value) == problem
