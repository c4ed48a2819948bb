from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from keel.guards.validators import (
    BusinessRuleValidator,
    ContainsValidator,
    JsonSchemaValidator,
    LengthValidator,
    RegexValidator,
    SchemaCache,
    SqlEngines,
    Validator,
    build_validator,
    build_validators,
)
from tests.guards.validators.conftest import parse

CONFIGS: list[dict[str, Any]] = [
    {"type": "json_schema", "schema": {"type": "object"}, "reask": True, "on_fail": "retry"},
    {"type": "regex", "name": "order-ref", "pattern": "ORD-\\d+", "on_fail": "block"},
    {"type": "contains", "text": "sorry", "must": "not_contain"},
    {"type": "length", "max_chars": 100, "on_fail": "fallback"},
    {
        "type": "business_rule",
        "name": "in_stock",
        "extract": {"regex": "SKU-\\d+"},
        "source": {"kind": "csv", "file": "stock.csv", "column": "id"},
    },
]


def test_a_route_list_builds_in_order_with_names_and_actions(tmp_path: Path) -> None:
    validators = build_validators([parse(c) for c in CONFIGS], base_dir=tmp_path, session=None)
    kinds = [JsonSchemaValidator, RegexValidator, ContainsValidator, LengthValidator, BusinessRuleValidator]
    assert [type(v) for v in validators] == kinds
    assert [v.name for v in validators] == ["json_schema", "order-ref", "contains", "length", "in_stock"]
    assert [v.on_fail for v in validators] == ["retry", "block", "flag", "fallback", "flag"]
    assert [v.reask for v in validators] == [True, False, False, False, False]
    assert [v.schema for v in validators] == [{"type": "object"}, None, None, None, None]


def test_validators_share_the_given_schema_cache(tmp_path: Path) -> None:
    cache = SchemaCache()
    config = parse(CONFIGS[0])
    build_validators([config, config], base_dir=tmp_path, session=None, schemas=cache)
    assert len(cache) == 1


async def test_every_validator_answers_through_the_same_interface(tmp_path: Path) -> None:
    (tmp_path / "stock.csv").write_text("id\nSKU-1\n")
    validators: list[Validator] = build_validators([parse(c) for c in CONFIGS], base_dir=tmp_path, session=None)
    results = [await v.validate('{"note": "ORD-7 has SKU-1"}') for v in validators]
    assert [r.ok for r in results] == [True, True, True, True, True]
    assert results[-1].entities_checked == 1
    results = [await v.validate("sorry, SKU-2 " + "x" * 100) for v in validators]
    assert [r.ok for r in results] == [False, False, False, False, False]


def _rule(source: dict[str, Any]) -> Any:
    return parse({"type": "business_rule", "name": "r", "extract": {"regex": "x"}, "source": source})


def test_an_http_source_needs_the_shared_session(tmp_path: Path) -> None:
    config = _rule({"kind": "http", "url": "http://127.0.0.1:1/{value}"})
    with pytest.raises(ValueError, match="needs the shared aiohttp ClientSession"):
        build_validator(config, base_dir=tmp_path, session=None)


async def test_an_http_source_is_built_with_a_session(tmp_path: Path) -> None:
    config = _rule({"kind": "http", "url": "http://127.0.0.1:1/{value}"})
    async with aiohttp.ClientSession() as session:
        assert isinstance(build_validator(config, base_dir=tmp_path, session=session), BusinessRuleValidator)


async def test_a_sql_source_needs_the_shared_engines(tmp_path: Path) -> None:
    config = _rule({"kind": "sql", "url": "sqlite:///x.db", "query": "SELECT 1 WHERE :value = 'x'"})
    with pytest.raises(ValueError, match="needs the shared SqlEngines"):
        build_validator(config, base_dir=tmp_path, session=None)
    engines = SqlEngines()
    try:
        assert isinstance(
            build_validator(config, base_dir=tmp_path, session=None, engines=engines), BusinessRuleValidator
        )
    finally:
        await engines.aclose()
