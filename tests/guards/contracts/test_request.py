"""The whole step on a chat.completions body: read the input, adapt, validate, render, drop Keel's fields."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from keel.core.errors import InvalidRequest
from keel.guards.contracts import ContractError, InputContract, Violation, apply_contract, canonical_input
from tests.guards.contracts.conftest import (
    CANONICAL_ORDER,
    ERP_XML,
    EXPORT_CSV,
    ORDER_CONTRACT_YAML,
    SHOP_JSON,
    WEBFORM,
    contract_from_yaml,
)

SYSTEM = {"role": "system", "content": "You check orders for fraud."}
RENDERED = orjson.dumps(CANONICAL_ORDER, option=orjson.OPT_SORT_KEYS).decode()


def request(**fields: Any) -> dict[str, Any]:
    return {"model": "orders", "messages": [SYSTEM], "temperature": 0, **fields}


def from_message(contract_yaml: str = ORDER_CONTRACT_YAML, *, extra: str = "") -> InputContract:
    return contract_from_yaml(contract_yaml + "\nsource: last_user_message\n" + extra)


def test_keel_input_is_appended_as_a_user_message_and_removed(order_contract: InputContract) -> None:
    body = request(keel_input=ERP_XML, keel_input_type="application/xml")
    original = copy.deepcopy(body)
    result = apply_contract(body, order_contract)
    assert result == {
        "model": "orders",
        "messages": [SYSTEM, {"role": "user", "content": RENDERED}],
        "temperature": 0,
    }
    assert body == original


@pytest.mark.parametrize(
    ("keel_input", "keel_input_type"),
    [
        (SHOP_JSON, None),
        (orjson.dumps(SHOP_JSON).decode(), None),
        (EXPORT_CSV, "text/csv; charset=utf-8"),
        (WEBFORM, None),
        (ERP_XML, None),
    ],
    ids=["json-value", "json-text", "csv", "form-sniffed", "xml-sniffed"],
)
def test_keel_input_in_every_format(
    keel_input: Any, keel_input_type: str | None, order_contract: InputContract
) -> None:
    fields = {"keel_input": keel_input} | ({"keel_input_type": keel_input_type} if keel_input_type else {})
    result = apply_contract(request(**fields), order_contract)
    assert result["messages"][-1] == {"role": "user", "content": RENDERED}
    assert "keel_input" not in result
    assert "keel_input_type" not in result


@pytest.mark.parametrize("text", [ERP_XML, orjson.dumps(SHOP_JSON).decode(), EXPORT_CSV, WEBFORM])
def test_last_user_message_is_sniffed_and_replaced(text: str) -> None:
    body = request()
    body["messages"] = [
        SYSTEM,
        {"role": "user", "content": text, "name": "erp"},
        {"role": "assistant", "content": "Noted."},
    ]
    original = copy.deepcopy(body)
    result = apply_contract(body, from_message())
    assert result["messages"] == [
        SYSTEM,
        {"role": "user", "content": RENDERED, "name": "erp"},
        {"role": "assistant", "content": "Noted."},
    ]
    assert body == original


def test_text_parts_are_replaced_and_other_parts_kept() -> None:
    image = {"type": "image_url", "image_url": {"url": "https://example.com/receipt.png"}}
    body = request()
    body["messages"] = [
        {"role": "user", "content": [{"type": "text", "text": ERP_XML}, image, {"type": "text", "text": " "}]}
    ]
    result = apply_contract(body, from_message())
    assert result["messages"][0]["content"] == [{"type": "text", "text": RENDERED}, image]


def test_template_rendering() -> None:
    contract = from_message(
        extra=(
            "render: template\n"
            "template: 'Order {order_id} for {customer.name}: {lines[1].quantity} x {lines[1].sku}"
            " (express {express}, note: {note}) {{{lines[0]}}}'"
        )
    )
    body = request()
    body["messages"] = [SYSTEM, {"role": "user", "content": ERP_XML}]
    assert apply_contract(body, contract)["messages"][1]["content"] == (
        "Order A-1001 for Ada Lovelace: 1 x SKU-2 (express true, note: ) "
        '{{"gift":false,"quantity":2,"sku":"SKU-1","unit_price":19.9}}'
    )


def test_contract_violations_name_the_field_the_input_came_from(order_contract: InputContract) -> None:
    order = copy.deepcopy(CANONICAL_ORDER)
    order["lines"][1]["quantity"] = 0
    order["customer"]["email"] = "x"
    with pytest.raises(ContractError) as caught:
        apply_contract(request(keel_input=order), order_contract)
    assert caught.value.param == "keel_input"
    assert caught.value.message == (
        "input does not match the contract: $.customer.email: 'x' is not a 'email'; "
        "$.lines[1].quantity: 0 is less than the minimum of 1"
    )
    body = request()
    body["messages"] = [{"role": "user", "content": ERP_XML.replace("<Lines>", "<Lines><Lines>")}]
    with pytest.raises(ContractError) as caught:
        apply_contract(body, from_message())
    assert caught.value.param == "messages"
    assert caught.value.violations == (Violation("$", "malformed XML at line 11, column 3: mismatched tag"),)


def test_mapping_violations_come_before_validation(order_contract: InputContract) -> None:
    xml = ERP_XML.replace('qty="2"', 'qty="two"')
    with pytest.raises(ContractError) as caught:
        canonical_input(request(keel_input=xml, keel_input_type="application/xml"), order_contract)
    assert caught.value.violations == (Violation("$.lines[0].quantity", "'two' is not an integer"),)
    assert caught.value.param == "keel_input"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("Please check order A-1001 for me.", "cannot tell the input's format"),
        ("a=1 & b=2", "cannot tell the input's format"),
        ("just one line, with a comma", "cannot tell the input's format"),
        ([{"type": "image_url", "image_url": {"url": "x"}}], "cannot tell the input's format"),
    ],
)
def test_unrecognised_message_text(content: Any, problem: str) -> None:
    body = request()
    body["messages"] = [{"role": "user", "content": content}]
    with pytest.raises(ContractError) as caught:
        apply_contract(body, from_message())
    assert caught.value.violations[0].problem.startswith(problem)


def test_request_shape_errors(order_contract: InputContract) -> None:
    with pytest.raises(InvalidRequest, match="expects its input in 'keel_input'") as caught:
        apply_contract(request(), order_contract)
    assert caught.value.param == "keel_input"
    with pytest.raises(InvalidRequest, match="must be an object, an array or a string"):
        apply_contract(request(keel_input=5), order_contract)
    with pytest.raises(InvalidRequest, match="'keel_input_type' must be a content type string") as caught:
        apply_contract(request(keel_input="x", keel_input_type=["text/csv"]), order_contract)
    assert caught.value.param == "keel_input_type"
    with pytest.raises(ContractError, match="or set 'keel_input_type'"):
        apply_contract(request(keel_input="hello"), order_contract)
    with pytest.raises(InvalidRequest, match="'messages' must be an array"):
        apply_contract({"keel_input": CANONICAL_ORDER}, order_contract)
    with pytest.raises(InvalidRequest, match="remove 'keel_input'") as caught:
        apply_contract(request(keel_input=CANONICAL_ORDER), from_message())
    assert caught.value.param == "keel_input"
    with pytest.raises(ContractError, match="no user message to read the input from"):
        apply_contract(request(), from_message())
