"""The same order from five source systems (XML, CSV, form, two JSON shapes) becomes one canonical object."""

from __future__ import annotations

from typing import Any

import pytest

from keel.guards.contracts import ContractError, InputContract, Violation, adapt
from keel.guards.contracts.render import render_json
from tests.guards.contracts.conftest import (
    CANONICAL_ORDER,
    ERP_XML,
    EXPORT_CSV,
    MARKETPLACE_JSON,
    SHOP_JSON,
    WEBFORM,
    contract_from_yaml,
)

FORM = "application/x-www-form-urlencoded"


def violations_of(raw: Any, content_type: str, contract: InputContract) -> list[Violation]:
    with pytest.raises(ContractError) as caught:
        adapt(raw, content_type, contract)
    return list(caught.value.violations)


def test_xml_order_with_attributes_and_repeated_elements(order_contract: InputContract) -> None:
    order = adapt(ERP_XML, "application/xml", order_contract)
    assert order == CANONICAL_ORDER
    assert list(order) == ["order_id", "order_date", "express", "customer", "lines"]  # mapping order


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (ERP_XML, "application/xml"),
        (ERP_XML.encode(), "text/xml; charset=utf-8"),
        (EXPORT_CSV, "text/csv"),
        (WEBFORM, FORM),
        (SHOP_JSON, "application/json"),
        (MARKETPLACE_JSON, "application/json"),
        (CANONICAL_ORDER, "application/json"),
    ],
    ids=["xml", "xml-bytes", "csv", "form", "shop-json", "marketplace-json", "canonical-json"],
)
def test_every_source_gives_the_identical_canonical_object(
    raw: Any, content_type: str, order_contract: InputContract
) -> None:
    order = adapt(raw, content_type, order_contract)
    assert order == CANONICAL_ORDER
    assert render_json(order) == render_json(CANONICAL_ORDER)


def test_canonical_json_that_validates_is_returned_as_it_is(order_contract: InputContract) -> None:
    assert adapt(CANONICAL_ORDER, "application/json", order_contract) is CANONICAL_ORDER


def test_unmatched_json_is_passed_on_for_validation(order_contract: InputContract) -> None:
    other = {"something": "else"}
    assert adapt(other, "application/json", order_contract) is other
    assert violations_of([1, 2], "application/json", order_contract) == [
        Violation(
            "$",
            "no adapter of this contract reads a JSON array (the contract expects an object) "
            "(tried: shop, marketplace)",
        )
    ]


def test_single_xml_line_still_gives_a_list_and_namespaces_are_ignored(order_contract: InputContract) -> None:
    xml = (
        '<e:Order xmlns:e="urn:erp" e:id="B-7"><e:Customer><e:Name>Bo</e:Name><e:Email>bo@example.com</e:Email>'
        '</e:Customer><e:Lines><e:Line sku="S" qty="3"/></e:Lines></e:Order>'
    )
    assert adapt(xml, "application/xml", order_contract) == {
        "order_id": "B-7",
        "customer": {"name": "Bo", "email": "bo@example.com"},
        "lines": [{"sku": "S", "quantity": 3}],
    }


def test_nested_lists_from_xml_and_json() -> None:
    contract = contract_from_yaml(
        """
schema: {type: object, required: [lines]}
adapters:
  - name: x
    format: xml
    mapping: {"lines[*].sku": "Order/Line[*]/@sku", "lines[*].serials[*]": "Order/Line[*]/Serial[*]"}
    types: {"lines[*].serials[*]": integer}
  - {name: j, format: json, mapping: {"lines[*].sku": "rows[*].id", "lines[*].serials[*]": "rows[*].sn[*]"}}
"""
    )
    xml = "<Order><Line sku='a'><Serial>1</Serial><Serial/><Serial>2</Serial></Line><Line sku='b'/></Order>"
    expected = {"lines": [{"sku": "a", "serials": [1, 2]}, {"sku": "b", "serials": []}]}
    assert adapt(xml, "application/xml", contract) == expected
    rows = {"rows": [{"id": "a", "sn": [1, None, 2]}, {"id": "b", "sn": []}]}
    assert adapt(rows, "application/json", contract) == expected


def test_xml_element_repeated_where_one_is_expected(order_contract: InputContract) -> None:
    xml = ERP_XML.replace("<Email>ada@example.com</Email>", "<Email>a@example.com</Email><Email>b@example.com</Email>")
    assert violations_of(xml, "application/xml", order_contract) == [
        Violation(
            "$.customer.email",
            "<Email> appears 2 times where Order/Customer/Email expects one (write Email[*] for a list)",
        )
    ]


def test_bad_values_are_violations_at_their_canonical_paths(order_contract: InputContract) -> None:
    xml = ERP_XML.replace('qty="1"', 'qty="one"').replace("<Gift>no</Gift>", "<Gift>maybe</Gift>")
    assert violations_of(xml, "application/xml", order_contract) == [
        Violation("$.lines[0].gift", "'maybe' is not a boolean (true/false, 1/0, yes/no, on/off)"),
        Violation("$.lines[1].quantity", "'one' is not an integer"),
    ]


def test_mapping_violations_are_in_path_order() -> None:
    contract = contract_from_yaml(
        """
schema: {type: object, required: [lines]}
adapters:
  - name: a
    format: json
    mapping: {"lines[*].n": "n[*]", total: total}
    types: {"lines[*].n": integer, total: number}
"""
    )
    numbers: list[Any] = list(range(12))
    numbers[10] = "ten"
    numbers[2] = "two"
    assert violations_of({"n": numbers, "total": "many"}, "application/json", contract) == [
        Violation("$.lines[2].n", "'two' is not an integer"),
        Violation("$.lines[10].n", "'ten' is not an integer"),
        Violation("$.total", "'many' is not a number"),
    ]


def test_missing_values_leave_keys_out_but_keep_items_aligned(order_contract: InputContract) -> None:
    xml = ERP_XML.replace('sku="SKU-1" ', "").replace("<Price>4.50</Price>", "<Price> </Price>")
    lines = adapt(xml, "application/xml", order_contract)["lines"]
    assert lines == [
        {"quantity": 2, "unit_price": 19.9, "gift": False},
        {"sku": "SKU-2", "quantity": 1, "gift": True},
    ]


def test_csv_rows_must_agree_on_order_level_columns(order_contract: InputContract) -> None:
    csv = EXPORT_CSV.replace("A-1001;;;;;SKU-2", "A-1002;;;;;SKU-2")
    assert violations_of(csv, "text/csv", order_contract) == [
        Violation("$.order_id", "column 'order_id' differs between rows: 'A-1001' on line 2, 'A-1002' on line 3")
    ]


def test_csv_header_must_hold_every_mapped_column(order_contract: InputContract) -> None:
    csv = EXPORT_CSV.replace("qty", "quantity").replace(";gift", ";sku")
    assert violations_of(csv, "text/csv", order_contract) == [
        Violation("$", "the CSV header holds 2 columns named 'sku'"),
        Violation("$", "the CSV header has no column 'qty'"),
        Violation("$", "the CSV header has no column 'gift'"),
    ]


def test_csv_delimiter_is_detected_or_configured() -> None:
    contract = contract_from_yaml(
        """
schema: {type: object}
adapters:
  - {name: tabs, format: csv, delimiter: "|", mapping: {"items[*].name": "Item Name", total: total}}
"""
    )
    table = "Item Name|total\n Tea , bag |7\nCake;slice|\n\n"
    assert adapt(table, "text/csv", contract) == {
        "items": [{"name": "Tea , bag"}, {"name": "Cake;slice"}],
        "total": "7",
    }


def test_form_repeated_fields_become_lists() -> None:
    contract = contract_from_yaml(
        """
schema: {type: object}
adapters:
  - name: basket
    format: form
    mapping: {"lines[*].sku": "sku[*]", "lines[*].quantity": "qty[*]", "tags[*]": "tag[*]", note: note}
    types: {"lines[*].quantity": integer}
"""
    )
    form = "sku=A&qty=2&sku=B&qty=5&tag[]=x&tag[]=&tag[]=y&note=hi&note=hi"
    assert adapt(form, FORM, contract) == {
        "lines": [{"sku": "A", "quantity": 2}, {"sku": "B", "quantity": 5}],
        "tags": ["x", "y"],
        "note": "hi",
    }
    assert violations_of("note=a&note=b", FORM, contract) == [
        Violation("$.note", "field 'note' is sent with 2 different values where one is expected")
    ]


def test_indexed_form_fields_align_by_index(order_contract: InputContract) -> None:
    form = WEBFORM.replace("&lines[0][price]=19.90", "").replace("lines[1]", "lines[7]")
    lines = adapt(form, FORM, order_contract)["lines"]
    assert lines == [
        {"sku": "SKU-1", "quantity": 2, "gift": False},
        {"sku": "SKU-2", "quantity": 1, "unit_price": 4.5, "gift": True},
    ]


def test_json_mappings_must_agree_on_item_count() -> None:
    contract = contract_from_yaml(
        """
schema: {type: object, required: [lines]}
adapters:
  - {name: a, format: json, mapping: {"lines[*].sku": "skus[*]", "lines[*].qty": "qtys[*]"}}
"""
    )
    assert violations_of({"skus": ["A", "B"], "qtys": [1]}, "application/json", contract) == [
        Violation("$.lines", "qtys[*] gives 1 items where the other mappings under it give 2")
    ]
    assert violations_of({"skus": "A"}, "application/json", contract) == [
        Violation("$.lines", "skus is not an array (reading skus[*])")
    ]


class TestAdapterSelection:
    CONTRACT = """
schema: {type: object, required: [source]}
adapters:
  - {name: legacy, format: xml, when: {content_type: application/vnd.legacy+xml}, mapping: {source: Order/@v}}
  - {name: orders, format: xml, when: {root: Order}, mapping: {source: Order/@id}}
  - {name: invoices, format: xml, when: {root: Invoice}, mapping: {source: Invoice/Number}}
  - {name: v2, format: json, when: {has_field: meta.v2}, mapping: {source: meta.v2}}
  - {name: v1, format: json, mapping: {source: id}}
"""

    @pytest.mark.parametrize(
        ("raw", "content_type", "source"),
        [
            ('<Order id="o" v="legacy"/>', "application/vnd.legacy+xml; charset=utf-8", "legacy"),
            ('<Order id="o" v="legacy"/>', "APPLICATION/XML", "o"),
            ("<Invoice><Number>i</Number></Invoice>", "text/xml", "i"),
            ({"meta": {"v2": "two"}, "id": "one"}, "application/json", "two"),
            ({"meta": {"v2": None}, "id": "one"}, "application/json", "one"),
            ('{"id": "one"}', "application/json", "one"),
        ],
    )
    def test_first_adapter_whose_conditions_hold(self, raw: Any, content_type: str, source: str) -> None:
        assert adapt(raw, content_type, contract_from_yaml(self.CONTRACT)) == {"source": source}

    def test_no_adapter_for_the_input(self) -> None:
        contract = contract_from_yaml(self.CONTRACT)
        assert violations_of("<Receipt/>", "application/xml", contract) == [
            Violation(
                "$", "no adapter of this contract reads XML input with root <Receipt> (tried: legacy, orders, invoices)"
            )
        ]
        assert violations_of("a,b\n1,2\n", "text/csv", contract) == [
            Violation("$", "no adapter of this contract reads csv input")
        ]
        assert violations_of("x", "application/pdf", contract) == [
            Violation(
                "$",
                "unsupported input type 'application/pdf'; use one of application/json, application/xml, text/csv,"
                " application/x-www-form-urlencoded",
            )
        ]
        assert violations_of({"a": 1}, "text/csv", contract) == [Violation("$", "a JSON value was sent as 'text/csv'")]

    def test_adapter_reading_another_root(self) -> None:
        contract = contract_from_yaml(
            "schema: {type: object}\nadapters: [{name: o, format: xml, mapping: {id: Order/@id}}]"
        )
        assert violations_of("<Invoice id='1'/>", "application/xml", contract) == [
            Violation("$", "the XML root element is <Invoice>; adapter 'o' reads <Order>")
        ]
