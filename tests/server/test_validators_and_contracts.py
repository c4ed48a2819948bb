"""Output validators and input contracts through a running gateway."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.server.served import logged, serve

CONFIG = """\
storage: {log_flush_interval_s: 0.05}
routes:
  recommend:
    deployments: [recommender]
    guards:
      timeout_ms: 2000
      output:
        - business_rule:
            name: in_stock
            extract: {regex: "SKU-[0-9]+"}
            source: {kind: csv, file: stock.csv, column: sku, where: {column: in_stock, equals: "yes"}}
            require: all_present
            on_fail: block
  recommend-safe:
    deployments: [recommender]
    safe_mode: {message: "Please ask a shop assistant."}
    guards:
      output:
        - business_rule:
            name: in_stock
            extract: {regex: "SKU-[0-9]+"}
            source: {kind: csv, file: stock.csv, column: sku, where: {column: in_stock, equals: "yes"}}
            on_fail: fallback
  structured:
    deployments: [prose]
    guards:
      output:
        - json_schema: {schema: {type: object, required: [answer]}, reask: true, on_fail: flag}
  orders:
    deployments: [echo]
    guards:
      input:
        - contract:
            source: keel_input
            schema:
              type: object
              required: [order_id, lines]
              properties:
                order_id: {type: string}
                lines:
                  type: array
                  minItems: 1
                  items:
                    type: object
                    required: [sku, quantity]
                    properties: {sku: {type: string}, quantity: {type: integer, minimum: 1}}
            adapters:
              - name: erp
                format: xml
                when: {root: Order}
                mapping:
                  order_id: Order/@id
                  lines[*].sku: Order/Line[*]/@sku
                  lines[*].quantity: Order/Line[*]/@qty
                types:
                  lines[*].quantity: integer
deployments:
  recommender:
    provider: simulator
    model: recommender-sim
    simulator: {reply: "Try SKU-1 or SKU-9."}
  prose:
    provider: simulator
    model: prose-sim
    simulator: {reply: "Sure! The answer is 42."}
  echo: {provider: simulator, model: "sim:tokens=60"}
"""

STOCK = "sku,in_stock\nSKU-1,yes\nSKU-9,no\n"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    workdir = tmp_path_factory.mktemp("validators")
    (workdir / "stock.csv").write_text(STOCK)
    with serve(workdir, CONFIG) as client:
        yield client


def chat(client: httpx.Client, route: str, **extra: object) -> httpx.Response:
    body = {"model": route, "messages": [{"role": "user", "content": "what should I buy?"}], **extra}
    return client.post("/v1/chat/completions", json=body)


def test_an_out_of_stock_recommendation_is_blocked(gateway: httpx.Client) -> None:
    response = chat(gateway, "recommend")
    assert response.status_code == 200
    choice = response.json()["choices"][0]
    assert choice["finish_reason"] == "content_filter" and choice["message"]["content"] is None
    assert response.headers["x-keel-guards"] == "in_stock=block(problem:1)"


def test_a_failed_business_rule_can_fall_back_to_the_safe_mode_answer(gateway: httpx.Client) -> None:
    response = chat(gateway, "recommend-safe")
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "Please ask a shop assistant."
    assert response.headers["x-keel-guards"] == "in_stock=fallback(problem:1)"


def test_an_invalid_json_answer_is_reasked_once_then_flagged(gateway: httpx.Client) -> None:
    response = chat(gateway, "structured")
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "Sure! The answer is 42."
    assert response.headers["x-keel-guards"] == "json_schema=retry(problem:1);json_schema=flag(problem:1)"
    attempts = logged(gateway, response.headers["x-request-id"])["attempts"]
    assert isinstance(attempts, list) and len(attempts) == 2, "the re-ask is a second call"


def test_xml_input_is_adapted_to_the_canonical_json(gateway: httpx.Client) -> None:
    xml = '<Order id="A-7"><Line sku="SKU-1" qty="2"/><Line sku="SKU-3" qty="1"/></Order>'
    response = chat(gateway, "orders", keel_input=xml, keel_input_type="application/xml")
    assert response.status_code == 200, response.text
    echoed = response.json()["choices"][0]["message"]["content"]
    assert '"order_id":"A-7"' in echoed.replace(" ", "") and '"quantity":2' in echoed.replace(" ", "")


def test_a_contract_violation_is_a_400_naming_the_field(gateway: httpx.Client) -> None:
    xml = '<Order id="A-8"><Line sku="SKU-1" qty="0"/></Order>'
    response = chat(gateway, "orders", keel_input=xml, keel_input_type="application/xml")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "input_contract_violation"
    assert "$.lines[0].quantity" in error["message"]
    assert response.headers["x-keel-guards"].startswith("contract=block")


def test_keel_input_is_refused_on_routes_without_a_contract(gateway: httpx.Client) -> None:
    response = chat(gateway, "structured", keel_input="<Order/>", keel_input_type="application/xml")
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "keel_input"
