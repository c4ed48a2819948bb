"""The contract config is checked when it is loaded: every broken path, mapping or template names itself."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import yaml
from pydantic import ValidationError

from keel.guards.contracts import InputContract, validate_input
from tests.guards.contracts.conftest import ORDER_CONTRACT_YAML, contract_from_yaml


def config_error(text: str) -> str:
    with pytest.raises(ValidationError) as caught:
        contract_from_yaml(text)
    return str(caught.value)


def adapter_yaml(adapter: str) -> str:
    return f"schema: {{type: object}}\nadapters: [{adapter}]"


@pytest.mark.parametrize(
    ("adapter", "problem"),
    [
        ("{name: a, format: xml, mapping: {id: Order/@id/text()}}", "'Order/@id/text()' is not an XML path"),
        ("{name: a, format: xml, mapping: {id: 'Order[*]/@id'}}", "the root element cannot repeat"),
        ("{name: a, format: xml, mapping: {'ids[*]': Order/Line/@id}}", "the target has 1 [*] and the source"),
        ("{name: a, format: xml, mapping: {id: 'Order/Line[*]/@id'}}", "the target has 0 [*] and the source"),
        (
            "{name: a, format: xml, mapping: {a: Order/@a, b: Invoice/@b}}",
            "start at the same root element, not Invoice, Order",
        ),
        ("{name: a, format: xml, when: {root: Invoice}, mapping: {a: Order/@a}}", "when.root is 'Invoice'"),
        ("{name: a, format: json, when: {root: Order}, mapping: {a: a}}", "when.root applies to xml adapters only"),
        ("{name: a, format: xml, when: {has_field: a}, mapping: {a: A}}", "when.has_field applies to json adapters"),
        (
            "{name: a, format: json, when: {has_field: 'a[*]'}, mapping: {a: a}}",
            "has_field is a dotted path without [*]",
        ),
        ("{name: a, format: json, delimiter: ',', mapping: {a: a}}", "delimiter applies to csv adapters only"),
        ("{name: a, format: json, mapping: {'a..b': a}}", "'a..b' is not a dotted path"),
        ("{name: a, format: json, mapping: {customer: c, customer.name: n}}", "customer.name lies inside customer"),
        ("{name: a, format: json, mapping: {'l[*].a': 'x[*]', l.b: y}}", "disagree on whether 'l' is an array"),
        ("{name: a, format: csv, mapping: {'a[*].b[*]': col}}", "a CSV column fills at most one level of [*]"),
        ("{name: a, format: csv, mapping: {a: ' '}}", "a CSV column name cannot be empty"),
        ("{name: a, format: form, mapping: {'a[*]': 'x[*][y][*]'}}", "a form field may hold [*] once"),
        ("{name: a, format: form, mapping: {a: 'x y'}}", "without spaces, '&' or '='"),
        ("{name: a, format: json, mapping: {a: a}, types: {b: integer}}", "types names paths that are not mapped: b"),
        ("{name: a, format: json, mapping: {a: a}, types: {a: float}}", "Input should be 'integer'"),
        ("{name: a, format: yaml, mapping: {a: a}}", "Input should be 'json', 'xml', 'csv' or 'form'"),
        ("{name: a, format: json, mapping: {}}", "mapping\n  Dictionary should have at least 1 item"),
        ("{name: a, format: json, mapping: {a: a}, extra: 1}", "Extra inputs are not permitted"),
    ],
)
def test_broken_adapters_are_config_errors(adapter: str, problem: str) -> None:
    assert problem in config_error(adapter_yaml(adapter))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("source: keel_input", "give exactly one of `schema` (inline) or `schema_file`"),
        ("schema: {type: object}\nschema_file: s.json", "give exactly one of `schema` (inline) or `schema_file`"),
        ("schema: {type: objekt}", "not a valid JSON Schema at $.type"),
        ("schema: {properties: {a: {$ref: 'https://example.com/a.json'}}}", "only references inside the schema"),
        ("schema: {properties: {a: {$ref: '#/$defs/a'}}}", "$ref '#/$defs/a' points at nothing in the schema"),
        ("schema: {type: object}\nrender: template", "`template` goes with `render: template`"),
        ("schema: {type: object}\ntemplate: '{a}'", "`template` goes with `render: template`"),
        ("schema: {type: object}\nrender: template\ntemplate: 'a {b'", "template: expected '}' before end of string"),
        ("schema: {type: object}\nrender: template\ntemplate: '{a!r}'", "{a} is not a placeholder"),
        ("schema: {type: object}\nrender: template\ntemplate: '{}'", "{} is not a placeholder"),
        ("schema: {type: object}\nsource: body", "Input should be 'last_user_message' or 'keel_input'"),
        (
            "schema: {type: object}\nadapters: [{name: a, format: json, mapping: {a: a}}, "
            "{name: a, format: csv, mapping: {a: a}}]",
            "adapter names must be distinct: a",
        ),
    ],
)
def test_broken_contracts_are_config_errors(text: str, problem: str) -> None:
    assert problem in config_error(text)


def test_references_inside_the_schema_are_followed() -> None:
    contract = contract_from_yaml(
        """
schema:
  $defs:
    line: {type: object, required: [sku]}
    qty: {$anchor: qty, type: integer}
  properties:
    lines: {type: array, items: {$ref: '#/$defs/line'}}
    total: {$ref: '#qty'}
"""
    )
    assert [str(v) for v in validate_input({"lines": [{}], "total": "x"}, contract)] == [
        "$.lines[0]: 'sku' is a required property",
        "$.total: 'x' is not of type 'integer'",
    ]


def test_contract_round_trips_through_its_dump(order_contract: InputContract) -> None:
    dumped = order_contract.model_dump(mode="json")
    assert "schema" in dumped
    assert "json_schema" not in dumped
    assert InputContract.model_validate_json(orjson.dumps(dumped)) == order_contract


def test_schema_file_is_read_relative_to_the_config(tmp_path: Path) -> None:
    schema = yaml.safe_load(ORDER_CONTRACT_YAML)["schema"]
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "order.yaml").write_text(yaml.safe_dump(schema))
    contract = contract_from_yaml("schema_file: schemas/order.yaml\nrender: template\ntemplate: '{order_id}'")
    resolved = contract.with_schema_file_read(tmp_path)
    assert resolved.json_schema == schema
    assert resolved.schema_file is None
    assert resolved.compiled_template is not None
    assert validate_input({"order_id": 5}, resolved)[0].path == "$"
    assert resolved.with_schema_file_read(Path("/nonexistent")) is resolved


def test_broken_schema_files(tmp_path: Path) -> None:
    contract = contract_from_yaml("schema_file: order.json")
    with pytest.raises(ValueError, match="cannot read schema file"):
        contract.with_schema_file_read(tmp_path)
    (tmp_path / "order.json").write_text('{"type": ')
    with pytest.raises(ValueError, match="is not valid JSON: unexpected end of data"):
        contract.with_schema_file_read(tmp_path)
    (tmp_path / "order.json").write_text('{"type": "objekt"}')
    with pytest.raises(ValueError, match=r"not a valid JSON Schema at \$\.type"):
        contract.with_schema_file_read(tmp_path)
    (tmp_path / "order.json").write_text("[]")
    with pytest.raises(ValueError, match="does not hold an object"):
        contract.with_schema_file_read(tmp_path)


def test_unread_schema_file_is_read_from_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "s.json").write_text('{"type": "object", "required": ["id"]}')
    monkeypatch.chdir(tmp_path)
    contract = contract_from_yaml("schema_file: s.json")
    assert [v.problem for v in validate_input({}, contract)] == ["'id' is a required property"]
