"""An "order" feature's contract with adapters for four source systems, and the order each one sends."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import yaml

from keel.guards.contracts import InputContract

ORDER_CONTRACT_YAML = """
schema:
  type: object
  required: [order_id, customer, lines]
  additionalProperties: false
  properties:
    order_id: {type: string}
    order_date: {type: string, format: date}
    express: {type: boolean}
    customer:
      type: object
      required: [name, email]
      properties:
        name: {type: string}
        email: {type: string, format: email}
    lines:
      type: array
      minItems: 1
      items:
        type: object
        required: [sku, quantity]
        properties:
          sku: {type: string}
          quantity: {type: integer, minimum: 1}
          unit_price: {type: number}
          gift: {type: boolean}
adapters:
  - name: erp
    format: xml
    when: {root: Order}
    mapping:
      order_id: Order/@id
      order_date: Order/@date
      express: Order/@express
      customer.name: Order/Customer/Name/text()
      customer.email: Order/Customer/Email
      lines[*].sku: Order/Lines/Line[*]/@sku
      lines[*].quantity: Order/Lines/Line[*]/@qty
      lines[*].unit_price: Order/Lines/Line[*]/Price
      lines[*].gift: Order/Lines/Line[*]/Gift
    types:
      order_date: date
      express: boolean
      lines[*].quantity: integer
      lines[*].unit_price: number
      lines[*].gift: boolean
  - name: export
    format: csv
    mapping:
      order_id: order_id
      order_date: order_date
      express: express
      customer.name: customer_name
      customer.email: customer_email
      lines[*].sku: sku
      lines[*].quantity: qty
      lines[*].unit_price: price
      lines[*].gift: gift
    types:
      express: boolean
      lines[*].quantity: integer
      lines[*].unit_price: number
      lines[*].gift: boolean
  - name: webform
    format: form
    mapping:
      order_id: order_id
      order_date: order_date
      express: express
      customer.name: customer[name]
      customer.email: customer[email]
      lines[*].sku: lines[*][sku]
      lines[*].quantity: lines[*][qty]
      lines[*].unit_price: lines[*][price]
      lines[*].gift: lines[*][gift]
    types:
      express: boolean
      lines[*].quantity: integer
      lines[*].unit_price: number
      lines[*].gift: boolean
  - name: shop
    format: json
    when: {has_field: buyer}
    mapping:
      order_id: id
      order_date: placed_at
      express: express_delivery
      customer.name: buyer.full_name
      customer.email: buyer.contact.email
      lines[*].sku: items[*].product.sku
      lines[*].quantity: items[*].count
      lines[*].unit_price: items[*].price
      lines[*].gift: items[*].gift_wrap
  - name: marketplace
    format: json
    when: {has_field: data.orderNumber}
    mapping:
      order_id: data.orderNumber
      order_date: data.created
      express: data.shipping.express
      customer: data.customer
      lines[*].sku: data.items[*].sku
      lines[*].quantity: data.items[*].qty
      lines[*].unit_price: data.items[*].unitPrice
      lines[*].gift: data.items[*].gift
    types:
      order_date: date
      express: boolean
      lines[*].quantity: integer
      lines[*].unit_price: number
      lines[*].gift: boolean
"""

CANONICAL_ORDER: dict[str, Any] = {
    "order_id": "A-1001",
    "order_date": "2024-03-01",
    "express": True,
    "customer": {"name": "Ada Lovelace", "email": "ada@example.com"},
    "lines": [
        {"sku": "SKU-1", "quantity": 2, "unit_price": 19.9, "gift": False},
        {"sku": "SKU-2", "quantity": 1, "unit_price": 4.5, "gift": True},
    ],
}

ERP_XML = """<?xml version="1.0" encoding="UTF-8"?>
<Order id="A-1001" date="2024-03-01T10:15:00Z" express="yes">
  <Customer>
    <Name> Ada Lovelace </Name>
    <Email>ada@example.com</Email>
  </Customer>
  <Lines>
    <Line sku="SKU-1" qty="2"><Price>19.90</Price><Gift>no</Gift></Line>
    <Line sku="SKU-2" qty="1"><Price>4.50</Price><Gift>1</Gift></Line>
  </Lines>
</Order>
"""

EXPORT_CSV = (
    "order_id;order_date;express;customer_name;customer_email;sku;qty;price;gift\r\n"
    "A-1001;2024-03-01;true;Ada Lovelace;ada@example.com;SKU-1;2;19.90;false\r\n"
    "A-1001;;;;;SKU-2;1;4.50;TRUE\r\n"
)

WEBFORM = (
    "order_id=A-1001&order_date=2024-03-01&express=on&customer%5Bname%5D=Ada+Lovelace"
    "&customer[email]=ada%40example.com&lines[0][sku]=SKU-1&lines[0][qty]=2&lines[0][price]=19.90"
    "&lines[0][gift]=off&lines[1][sku]=SKU-2&lines[1][qty]=1&lines[1][price]=4.5&lines[1][gift]=yes"
)

SHOP_JSON: dict[str, Any] = {
    "id": "A-1001",
    "placed_at": "2024-03-01",
    "express_delivery": True,
    "buyer": {"full_name": "Ada Lovelace", "contact": {"email": "ada@example.com"}},
    "items": [
        {"product": {"sku": "SKU-1"}, "count": 2, "price": 19.9, "gift_wrap": False},
        {"product": {"sku": "SKU-2"}, "count": 1, "price": 4.5, "gift_wrap": True},
    ],
}

MARKETPLACE_JSON: dict[str, Any] = {
    "data": {
        "orderNumber": "A-1001",
        "created": "2024-03-01T08:00:00+01:00",
        "shipping": {"express": "Yes"},
        "customer": {"name": "Ada Lovelace", "email": "ada@example.com"},
        "items": [
            {"sku": "SKU-1", "qty": "2", "unitPrice": "19.90", "gift": 0},
            {"sku": "SKU-2", "qty": 1.0, "unitPrice": 4.5, "gift": "true"},
        ],
    }
}


def contract_from_yaml(text: str) -> InputContract:
    """Validate like the config loader does: strict types, YAML lists accepted as tuples."""
    return InputContract.model_validate_json(orjson.dumps(yaml.safe_load(text)))


@pytest.fixture
def order_contract() -> InputContract:
    return contract_from_yaml(ORDER_CONTRACT_YAML)
