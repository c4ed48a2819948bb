from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from keel.guards.validators import JsonSchemaConfig, SchemaCache, build_validator
from keel.guards.validators.answer import FENCE_PROBLEM
from tests.guards.validators.conftest import parse

PRODUCTS: dict[str, Any] = {
    "type": "object",
    "required": ["products"],
    "properties": {
        "products": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "qty"],
                "properties": {"id": {"type": "string", "pattern": "^SKU-"}, "qty": {"type": "integer"}},
            },
        }
    },
}


def _validator(tmp_path: Path = Path("."), **config: Any) -> Any:
    parsed = parse({"type": "json_schema", **config})
    assert isinstance(parsed, JsonSchemaConfig)
    return build_validator(parsed, base_dir=tmp_path, session=None)


async def test_valid_json_passes() -> None:
    result = await _validator(schema=PRODUCTS).validate('{"products": [{"id": "SKU-1", "qty": 2}]}')
    assert result.ok and result.problems == [] and result.validator == "json_schema"


async def test_problems_name_the_json_path_of_each_error() -> None:
    answer = orjson.dumps({"products": [{"id": "SKU-1", "qty": 2}, {"id": "X-2", "qty": "two"}, {"qty": 1}]})
    result = await _validator(schema=PRODUCTS, name="order").validate(answer.decode())
    assert not result.ok and result.validator == "order"
    assert result.problems == [
        "$.products[1].id: 'X-2' does not match '^SKU-'",
        "$.products[1].qty: 'two' is not of type 'integer'",
        "$.products[2]: 'id' is a required property",
    ]


async def test_at_most_five_errors_are_listed() -> None:
    answer = orjson.dumps({"products": [{"id": i, "qty": "n"} for i in range(4)]}).decode()
    problems = (await _validator(schema=PRODUCTS).validate(answer)).problems
    assert len(problems) == 6
    assert problems[:2] == [
        "$.products[0].id: 0 is not of type 'string'",
        "$.products[0].qty: 'n' is not of type 'integer'",
    ]
    assert problems[-1] == "… and 3 more schema errors"


async def test_a_long_value_is_quoted_only_in_part() -> None:
    answer = orjson.dumps({"products": [{"id": "SKU-1", "qty": "x" * 500}]}).decode()
    (problem,) = (await _validator(schema=PRODUCTS).validate(answer)).problems
    assert problem.startswith("$.products[0].qty: 'xxxx")
    assert problem.endswith("x… is not of type 'integer'")
    assert len(problem) < 120


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ("", "the answer is empty; expected JSON"),
        ("Sure! Here it is: {}", "the answer is not valid JSON: unexpected character"),
        ('{"products": [}', "the answer is not valid JSON: unexpected character"),
    ],
)
async def test_an_answer_that_is_not_json(answer: str, problem: str) -> None:
    result = await _validator(schema=PRODUCTS).validate(answer)
    assert not result.ok
    assert len(result.problems) == 1 and result.problems[0].startswith(problem)


FENCED = '```json\n{"products": [{"id": "SKU-1", "qty": 2}]}\n```'


@pytest.mark.parametrize("answer", [FENCED, '  ```\n{"products": []}\n```\n', '```JSON\n{"products": []}```'])
async def test_fenced_json_is_accepted_by_default(answer: str) -> None:
    result = await _validator(schema=PRODUCTS).validate(answer)
    assert result.ok, result.problems


async def test_fenced_json_is_a_problem_when_fences_are_rejected() -> None:
    validator = _validator(schema=PRODUCTS, fences="reject")
    assert (await validator.validate(FENCED)).problems == [FENCE_PROBLEM]
    bad = '```json\n{"products": [{"id": "SKU-1"}]}\n```'
    assert (await validator.validate(bad)).problems == [FENCE_PROBLEM, "$.products[0]: 'qty' is a required property"]
    assert (await validator.validate('{"products": []}')).ok


async def test_prose_around_a_fence_is_not_json() -> None:
    result = await _validator(schema=PRODUCTS).validate(f"Here you go:\n{FENCED}")
    assert not result.ok and result.problems[0].startswith("the answer is not valid JSON")


async def test_formats_are_checked() -> None:
    validator = _validator(schema={"type": "object", "properties": {"email": {"type": "string", "format": "email"}}})
    assert (await validator.validate('{"email": "ada@example.com"}')).ok
    assert (await validator.validate('{"email": "not an address"}')).problems == [
        "$.email: 'not an address' is not a 'email'"
    ]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("schema.json", orjson.dumps(PRODUCTS).decode()),
        ("schema.yaml", "type: object\nrequired: [products]\nproperties:\n  products: {type: array}\n"),
    ],
)
async def test_schema_from_a_file(tmp_path: Path, name: str, text: str) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / name).write_text(text)
    validator = _validator(tmp_path, schema_file=f"schemas/{name}")
    assert (await validator.validate('{"products": []}')).ok
    assert (await validator.validate("{}")).problems == ["$: 'products' is a required property"]
    assert validator.schema["required"] == ["products"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "schema_file s.json: cannot read"),
        ("{not json", "schema_file s.json: cannot parse"),
        ("[1, 2]", "must be an object"),
        ('{"type": 5}', "schema_file s.json: not a valid JSON Schema at $.type"),
    ],
)
def test_a_bad_schema_file_fails_at_build(tmp_path: Path, text: str | None, message: str) -> None:
    if text is not None:
        (tmp_path / "s.json").write_text(text)
    with pytest.raises(ValueError, match="schema_file") as caught:
        _validator(tmp_path, schema_file="s.json")
    assert message in str(caught.value)


def test_the_cache_compiles_equal_schemas_once() -> None:
    cache = SchemaCache(max_entries=2)
    first = cache.compiled({"type": "object", "required": ["a"]})
    assert cache.compiled({"required": ["a"], "type": "object"}) is first  # key order does not matter
    assert len(cache) == 1


def test_the_cache_drops_the_least_recently_used() -> None:
    cache = SchemaCache(max_entries=2)
    a = cache.compiled({"type": "string"})
    b = cache.compiled({"type": "integer"})
    assert cache.compiled({"type": "string"}) is a  # now b is the least recently used
    cache.compiled({"type": "boolean"})
    assert len(cache) == 2
    assert cache.compiled({"type": "string"}) is a
    assert cache.compiled({"type": "integer"}) is not b


def test_per_request_schemas_are_checked_through_the_cache() -> None:
    cache = SchemaCache()
    assert cache.problems({"type": "array", "maxItems": 1}, [1, 2]) == ["$: [1, 2] is too long"]
    with pytest.raises(ValueError, match=r"not a valid JSON Schema at \$\.maxItems"):
        cache.compiled({"type": "array", "maxItems": -1})
