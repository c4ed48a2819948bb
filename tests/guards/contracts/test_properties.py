"""Property: any order, written by the ERP as XML, exported as CSV or posted as a form, reads back the same."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import urlencode

from hypothesis import given, settings
from hypothesis import strategies as st

from keel.guards.contracts import adapt
from tests.guards.contracts.conftest import ORDER_CONTRACT_YAML, contract_from_yaml

CONTRACT = contract_from_yaml(ORDER_CONTRACT_YAML)
TEXT = st.text(st.characters(categories=("L", "N", "P", "S", "Zs")), min_size=1, max_size=12).filter(
    lambda text: text == text.strip() and bool(text)
)
LINE = st.fixed_dictionaries(
    {
        "sku": TEXT,
        "quantity": st.integers(1, 10_000),
        "unit_price": st.floats(0, 1e6, allow_nan=False).map(lambda price: round(price, 2)),
        "gift": st.booleans(),
    }
)
ORDER = st.fixed_dictionaries(
    {
        "order_id": TEXT,
        "order_date": st.dates().map(lambda day: day.isoformat()),
        "express": st.booleans(),
        "customer": st.fixed_dictionaries({"name": TEXT, "email": TEXT.map(lambda user: user + "@example.com")}),
        "lines": st.lists(LINE, min_size=1, max_size=4),
    }
)


def as_xml(order: dict[str, Any]) -> bytes:
    express = "yes" if order["express"] else "no"
    root = ET.Element("Order", id=order["order_id"], date=order["order_date"], express=express)
    customer = ET.SubElement(root, "Customer")
    ET.SubElement(customer, "Name").text = order["customer"]["name"]
    ET.SubElement(customer, "Email").text = order["customer"]["email"]
    lines = ET.SubElement(root, "Lines")
    for line in order["lines"]:
        element = ET.SubElement(lines, "Line", sku=line["sku"], qty=str(line["quantity"]))
        ET.SubElement(element, "Price").text = repr(line["unit_price"])
        ET.SubElement(element, "Gift").text = str(line["gift"]).lower()
    return ET.tostring(root)  # ASCII, with character references for everything else


def as_csv(order: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(
        ["order_id", "order_date", "express", "customer_name", "customer_email", "sku", "qty", "price", "gift"]
    )
    for line in order["lines"]:
        customer = order["customer"]
        writer.writerow(
            [order["order_id"], order["order_date"], order["express"], customer["name"], customer["email"], line["sku"],
             line["quantity"], line["unit_price"], "1" if line["gift"] else "0"]
        )  # fmt: skip
    return out.getvalue()


def as_form(order: dict[str, Any]) -> str:
    fields = [
        ("order_id", order["order_id"]),
        ("order_date", order["order_date"]),
        ("express", "on" if order["express"] else "off"),
        ("customer[name]", order["customer"]["name"]),
        ("customer[email]", order["customer"]["email"]),
    ]
    for n, line in enumerate(order["lines"]):
        fields += [(f"lines[{n}][sku]", line["sku"]), (f"lines[{n}][qty]", str(line["quantity"]))]
        fields += [
            (f"lines[{n}][price]", str(line["unit_price"])),
            (f"lines[{n}][gift]", "yes" if line["gift"] else "no"),
        ]
    return urlencode(fields)


@settings(max_examples=60, deadline=None)
@given(ORDER)
def test_every_format_reads_back_the_order(order: dict[str, Any]) -> None:
    assert adapt(as_xml(order), "application/xml", CONTRACT) == order
    assert adapt(as_csv(order), "text/csv", CONTRACT) == order
    assert adapt(as_form(order), "application/x-www-form-urlencoded", CONTRACT) == order
