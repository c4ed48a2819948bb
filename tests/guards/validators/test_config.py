from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from keel.guards.validators import (
    BusinessRuleConfig,
    ContainsConfig,
    JsonPathExtract,
    JsonSchemaConfig,
    LengthConfig,
    RegexExtract,
    ValidatorConfig,
)
from keel.guards.validators.sources import CsvSourceConfig, HttpSourceConfig, SqlSourceConfig
from tests.guards.validators.conftest import parse

CSV = {"kind": "csv", "file": "products.csv", "column": "id"}


def _rule(**overrides: Any) -> dict[str, Any]:
    return {"type": "business_rule", "name": "in_stock", "extract": {"regex": r"SKU-\d+"}, "source": CSV} | overrides


def _errors(data: dict[str, Any]) -> dict[tuple[str | int, ...], str]:
    """Each error's location and message."""
    with pytest.raises(ValidationError) as caught:
        parse(data)
    return {tuple(error["loc"]): str(error["msg"]) for error in caught.value.errors()}


def test_each_type_is_chosen_by_its_type_key() -> None:
    schema = parse({"type": "json_schema", "schema": {"type": "object"}, "reask": True, "on_fail": "retry"})
    assert isinstance(schema, JsonSchemaConfig)
    assert schema.json_schema == {"type": "object"} and schema.reask and schema.on_fail == "retry"
    contains = parse({"type": "contains", "text": "refund"})
    assert isinstance(contains, ContainsConfig)
    assert contains.must == "contain" and not contains.case_sensitive and contains.on_fail == "flag"
    assert isinstance(parse({"type": "length", "max_words": 10}), LengthConfig)
    rule = parse(_rule(extract={"json_path": "$.products[*].id"}))
    assert isinstance(rule, BusinessRuleConfig)
    assert isinstance(rule.extract, JsonPathExtract) and isinstance(rule.source, CsvSourceConfig)
    assert isinstance(parse(_rule()), BusinessRuleConfig)


def test_the_three_source_kinds_parse() -> None:
    sql = parse(
        _rule(source={"kind": "sql", "url": "postgresql://u@h/db", "query": "SELECT 1 FROM p WHERE id = :value"})
    )
    assert isinstance(sql, BusinessRuleConfig) and isinstance(sql.source, SqlSourceConfig)
    assert not sql.source.batched and sql.source.cache_ttl_s == 30
    batched = {"kind": "sql", "url": "sqlite:///p.db", "query": "SELECT id FROM p WHERE id IN :values"}
    rule = parse(_rule(source=batched))
    assert isinstance(rule, BusinessRuleConfig) and isinstance(rule.source, SqlSourceConfig) and rule.source.batched
    http = {"kind": "http", "url": "https://stock.example/{value}", "present_when": {"json_path": "$.in_stock"}}
    rule = parse(_rule(source=http, extract={"regex": "(SKU-\\d+)"}))
    assert isinstance(rule, BusinessRuleConfig) and isinstance(rule.source, HttpSourceConfig)
    assert isinstance(rule.extract, RegexExtract)
    assert rule.source.present_when.status == 200 and rule.source.present_when.equals is True


@pytest.mark.parametrize(
    ("data", "loc", "message"),
    [
        ({"type": "regex", "pattern": "(unclosed"}, ("regex", "pattern"), "not a valid regular expression"),
        ({"type": "regex", "pattern": "x", "must": "maybe"}, ("regex", "must"), "'match' or 'not_match'"),
        ({"type": "length"}, ("length",), "at least one of"),
        ({"type": "length", "min_chars": 10, "max_chars": 5}, ("length",), "min_chars (10) is greater"),
        ({"type": "contains", "text": "x", "case_sensitive": "yes"}, ("contains", "case_sensitive"), "boolean"),
        ({"type": "contains", "text": "x", "on_fail": "explode"}, ("contains", "on_fail"), "'retry'"),
        ({"type": "contains", "txt": "x"}, ("contains", "text"), "Field required"),
        ({"type": "sentiment"}, (), "'json_schema'"),
        ({"type": "json_schema", "schema": {"type": "objekt"}}, ("json_schema", "schema"), "at $.type"),
        ({"type": "json_schema"}, ("json_schema",), "exactly one of `schema`"),
        ({"type": "json_schema", "schema": {}, "schema_file": "s.json"}, ("json_schema",), "exactly one of"),
        ({"type": "json_schema", "json_schema": {}}, ("json_schema", "json_schema"), "Extra inputs"),
    ],
)
def test_errors_name_the_field(data: dict[str, Any], loc: tuple[str, ...], message: str) -> None:
    errors = _errors(data)
    assert loc in errors, errors
    assert message in errors[loc]


@pytest.mark.parametrize(
    ("overrides", "loc", "message"),
    [
        ({"extract": {"json_path": "products[*]"}}, ("extract", "json_path", "json_path"), "starts with '$'"),
        ({"extract": {"json_path": "$.a..b"}}, ("extract", "json_path", "json_path"), "character 4"),
        ({"extract": {}}, ("extract",), "exactly one of `json_path` or `regex`"),
        ({"require": "some_present"}, ("require",), "'all_present'"),
        ({"min_entities": 5, "max_entities": 2}, (), "min_entities (5) is greater"),
        ({"name": "has space"}, ("name",), "should match pattern"),
        (
            {"source": CSV | {"where": {"column": "in_stock", "equals": True}}},
            ("source", "csv", "where", "equals"),
            "string",
        ),
        ({"source": {"kind": "ftp"}}, ("source",), "'csv', 'sql', 'http'"),
        (
            {"source": {"kind": "sql", "url": "mysql://h/db", "query": "SELECT 1 WHERE a = :value"}},
            ("source", "sql", "url"),
            "unsupported database URL scheme",
        ),
        (
            {"source": {"kind": "sql", "url": "sqlite:///p.db", "query": "DELETE FROM p WHERE id = :value"}},
            ("source", "sql", "query"),
            "must be a SELECT",
        ),
        (
            {"source": {"kind": "sql", "url": "sqlite:///p.db", "query": "SELECT 1 FROM p WHERE id = :id"}},
            ("source", "sql", "query"),
            "found ['id']",
        ),
        (
            {"source": {"kind": "http", "url": "https://stock.example/items"}},
            ("source", "http", "url"),
            "placeholder {value}",
        ),
        (
            {"source": {"kind": "http", "url": "ftp://stock.example/{value}"}},
            ("source", "http", "url"),
            "http:// or https://",
        ),
        (
            {"source": {"kind": "http", "url": "https://{value}.example/"}},
            ("source", "http", "url"),
            "part of the host",
        ),
        (
            {"source": {"kind": "http", "url": "https://s.example/{value}", "absent_status": [200]}},
            ("source", "http"),
            "both present and absent",
        ),
        (
            {"source": {"kind": "http", "url": "https://s.example/{value}", "timeout_s": 0}},
            ("source", "http", "timeout_s"),
            "greater than 0",
        ),
    ],
)
def test_business_rule_errors_name_the_field(overrides: dict[str, Any], loc: tuple[str, ...], message: str) -> None:
    errors = _errors(_rule(**overrides))
    assert list(errors) == [("business_rule", *loc)], errors
    assert message in errors[("business_rule", *loc)]


def test_plain_python_data_validates_too() -> None:
    """Guard parameters arrive as Python data, not JSON: lists must still be accepted."""
    http = {"kind": "http", "url": "https://s.example/{value}", "absent_status": [404, 410], "headers": {"A": "b"}}
    data = _rule(source=http, extract={"json_path": "$.ids[*]"})
    rule = TypeAdapter(ValidatorConfig).validate_python(data)
    assert isinstance(rule, BusinessRuleConfig) and isinstance(rule.source, HttpSourceConfig)
    assert rule.source.absent_status == [404, 410]
    schema = TypeAdapter(ValidatorConfig).validate_python({"type": "json_schema", "schema": {"enum": [1, 2]}})
    assert isinstance(schema, JsonSchemaConfig) and schema.json_schema == {"enum": [1, 2]}


def test_a_postgres_cast_is_not_taken_for_a_parameter() -> None:
    query = "SELECT 1 FROM products WHERE id::text = :value AND stock > 0"
    rule = parse(_rule(source={"kind": "sql", "url": "postgresql://u@h/db", "query": query}))
    assert isinstance(rule, BusinessRuleConfig) and isinstance(rule.source, SqlSourceConfig)
    assert rule.source.query == query
