from __future__ import annotations

from typing import Any

import pytest

from keel.guards.validators import format_location, parse_json_path

DOC: dict[str, Any] = {
    "products": [{"id": "SKU-1", "tags": ["a", "b"]}, {"id": "SKU-2"}, {"name": "no id"}],
    "order": {"total": 12, "lines": {"x": 1, "y": 2}},
    "odd key": {"k": True},
}


@pytest.mark.parametrize(
    ("path", "found"),
    [
        ("$", [DOC]),
        ("$.order.total", [12]),
        ("$.products[*].id", ["SKU-1", "SKU-2"]),
        ("$.products[0].id", ["SKU-1"]),
        ("$.products[-1].name", ["no id"]),
        ("$.products[3].id", []),
        ("$.products[0].tags[*]", ["a", "b"]),
        ("$.order.lines.*", [1, 2]),
        ("$.order.lines[*]", [1, 2]),
        ("$['odd key'].k", [True]),
        ('$["odd key"]["k"]', [True]),
        ("$.missing.deeper", []),
        ("$.order.total.nothing", []),
        ("$.order[0]", []),
        ("$.products.id", []),
    ],
)
def test_find(path: str, found: list[Any]) -> None:
    assert parse_json_path(path).find(DOC) == found


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("products", "starts with '$'"),
        ("$..id", "character 2"),
        ("$.products[?(@.id)]", "character 11"),
        ("$.products[0:2]", "character 11"),
        ("$.9lives", "character 2"),
    ],
)
def test_unsupported_syntax_is_an_error(path: str, message: str) -> None:
    with pytest.raises(ValueError, match=r"cannot read|starts with") as caught:
        parse_json_path(path)
    assert message in str(caught.value)


def test_locations_are_written_as_paths_that_parse_back() -> None:
    location: list[str | int] = ["odd key", "k"]
    assert format_location(["products", 0, "id"]) == "$.products[0].id"
    assert format_location([]) == "$"
    written = format_location(location)
    assert written == "$['odd key'].k"
    assert parse_json_path(written).find(DOC) == [True]
