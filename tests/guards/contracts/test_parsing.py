"""Unreadable and unsafe input: malformed documents name the position, DTDs and oversized input are refused."""

from __future__ import annotations

from typing import Any

import pytest

from keel.guards.contracts import ContractError, InputContract, Violation, adapt
from tests.guards.contracts.conftest import ERP_XML, contract_from_yaml

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Order id="&lol9;"/>
"""

EXTERNAL_ENTITY = '<?xml version="1.0"?><!DOCTYPE Order [<!ENTITY x SYSTEM "file:///etc/passwd">]><Order id="&x;"/>'
DTD_REFUSED = Violation("$", "XML with a document type or entity declaration (<!DOCTYPE, <!ENTITY) is not accepted")


def only_violation(raw: Any, content_type: str, contract: InputContract) -> Violation:
    with pytest.raises(ContractError) as caught:
        adapt(raw, content_type, contract)
    assert len(caught.value.violations) == 1
    return caught.value.violations[0]


@pytest.mark.parametrize(
    "raw",
    [
        BILLION_LAUGHS,
        EXTERNAL_ENTITY,
        BILLION_LAUGHS.encode("utf-16"),  # a byte order mark cannot hide the declaration
        BILLION_LAUGHS.replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="latin-1"?>').encode("latin-1"),
        "<!doctype Order><Order/>",
    ],
    ids=["billion-laughs", "external-entity", "utf-16", "declared-encoding", "lower-case"],
)
def test_document_type_declarations_are_refused(raw: str | bytes, order_contract: InputContract) -> None:
    assert only_violation(raw, "application/xml", order_contract) == DTD_REFUSED


def test_malformed_xml_names_line_and_column(order_contract: InputContract) -> None:
    broken = ERP_XML.replace("</Customer>", "</Client>")
    assert only_violation(broken, "application/xml", order_contract) == Violation(
        "$", "malformed XML at line 6, column 5: mismatched tag"
    )
    assert only_violation("", "application/xml", order_contract) == Violation(
        "$", "malformed XML at line 1, column 1: no element found"
    )


def test_xml_bytes_in_their_declared_encoding(order_contract: InputContract) -> None:
    latin = ERP_XML.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"').replace("Ada Lovelace", "Zoë")
    order = adapt(latin.encode("iso-8859-1"), "application/xml", order_contract)
    assert order["customer"]["name"] == "Zoë"
    assert only_violation(b"<Order>\xff</Order>", "application/xml", order_contract) == Violation(
        "$", "XML input is not readable as utf-8 text"
    )


def test_malformed_json_names_line_and_column(order_contract: InputContract) -> None:
    problem = only_violation('{"order_id": "A",\n  "lines": [1,]}', "application/json", order_contract).problem
    assert problem.startswith("malformed JSON at line 2, column ")
    assert problem.endswith("trailing comma is not allowed")


def test_malformed_and_ragged_csv(order_contract: InputContract) -> None:
    header = "order_id,customer_name,customer_email,sku,qty,price,gift,order_date,express\n"
    assert only_violation(header + 'A,"Ada "x,a@b.c,S,1,1,no,,\n', "text/csv", order_contract) == Violation(
        "$", "malformed CSV at line 2: ',' expected after '\"'"
    )
    with pytest.raises(ContractError) as caught:
        adapt(header + "A,Ada,a@b.c,S,1,1,no,,\nA,Ada\nA,Ada,a@b.c,S,1,1,no,,,,\n", "text/csv", order_contract)
    assert caught.value.violations == (
        Violation("$", "CSV line 3 has 2 fields where the header has 9"),
        Violation("$", "CSV line 4 has 11 fields where the header has 9"),
    )
    assert only_violation("", "text/csv", order_contract) == Violation(
        "$", "the CSV input is empty: it needs a header row"
    )
    assert only_violation(b"sku\n\xff\n", "text/csv", order_contract) == Violation(
        "$", "csv input is not UTF-8 text (byte 5)"
    )


def test_malformed_form(order_contract: InputContract) -> None:
    assert only_violation("order_id=A&oops", "application/x-www-form-urlencoded", order_contract) == Violation(
        "$", "malformed form data: bad query field: 'oops'"
    )
    assert only_violation("order_id=%FF", "application/x-www-form-urlencoded", order_contract).problem.startswith(
        "malformed form data: 'utf-8' codec can't decode byte 0xff"
    )


@pytest.mark.parametrize(
    ("raw", "size"),
    [
        ("<Order>" + "é" * 100 + "</Order>", 215),
        (("<Order>" + "x" * 200 + "</Order>").encode(), 215),
        ({"note": "x" * 200}, 211),
    ],
    ids=["text", "bytes", "json-value"],
)
def test_input_larger_than_the_limit_is_refused_before_parsing(raw: Any, size: int) -> None:
    contract = contract_from_yaml(
        "schema: {type: object}\nmax_input_bytes: 150\nadapters: [{name: o, format: xml, mapping: {note: Order}}]"
    )
    content_type = "application/json" if isinstance(raw, dict) else "application/xml"
    assert only_violation(raw, content_type, contract) == Violation(
        "$", f"the input is {size:,} bytes; the contract accepts at most 150"
    )


def test_input_at_the_limit_is_read() -> None:
    contract = contract_from_yaml(
        "schema: {type: object}\nmax_input_bytes: 23\nadapters: [{name: o, format: xml, mapping: {note: Order}}]"
    )
    assert adapt("<Order>é123456</Order>", "application/xml", contract) == {"note": "é123456"}
