"""Tiered routes through a running gateway: the classifier's choice, escalation, cost and the log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from tests.server.served import logged, serve

CONFIG = """\
storage: {log_flush_interval_s: 0.05}
routes:
  support:
    tiering:
      tiers:
        - {name: cheap, deployments: [small]}
        - {name: strong, deployments: [large]}
      classifier: {max_prompt_tokens: 40, strong_keywords: [refund]}
  shy:
    tiering:
      tiers:
        - {name: cheap, deployments: [refuser]}
        - {name: strong, deployments: [large]}
deployments:
  small:
    provider: simulator
    model: "sim:reply=We are open from 9 to 5."
    price: {input_per_mtok: 1.0, output_per_mtok: 2.0}
  refuser:
    provider: simulator
    model: "sim:reply=I'm sorry%2C but I can't help with that."
    price: {input_per_mtok: 1.0, output_per_mtok: 2.0}
  large:
    provider: simulator
    model: "sim:tokens=10"
    price: {input_per_mtok: 10.0, output_per_mtok: 30.0}
"""


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    workdir = tmp_path_factory.mktemp("tiers")
    with serve(workdir, CONFIG) as client:
        yield client


def ask(client: httpx.Client, route: str, text: str) -> httpx.Response:
    response = client.post(
        "/v1/chat/completions", json={"model": route, "messages": [{"role": "user", "content": text}]}
    )
    assert response.status_code == 200, response.text
    return response


def usd(prompt: int, completion: int, input_per_mtok: str, output_per_mtok: str) -> Decimal:
    return (prompt * Decimal(input_per_mtok) + completion * Decimal(output_per_mtok)) / 1_000_000


def test_a_simple_request_is_served_by_the_cheap_tier(gateway: httpx.Client) -> None:
    response = ask(gateway, "support", "When are you open?")
    assert response.headers["x-keel-tier"] == "cheap"
    assert response.headers["x-keel-deployment"] == "small"
    assert "x-keel-escalation" not in response.headers
    usage = response.json()["usage"]
    expected = usd(usage["prompt_tokens"], usage["completion_tokens"], "1", "2")
    assert Decimal(response.headers["x-keel-cost-usd"]) == expected
    record = logged(gateway, response.headers["x-request-id"])
    assert (record["tier"], record["escalation"], record["deployment"]) == ("cheap", None, "small")


def test_a_strong_keyword_or_a_long_prompt_goes_to_the_strong_tier(gateway: httpx.Client) -> None:
    assert ask(gateway, "support", "I want a refund").headers["x-keel-tier"] == "strong"
    long_prompt = "Please compare these two plans in detail. " * 20
    assert ask(gateway, "support", long_prompt).headers["x-keel-tier"] == "strong"


def test_a_refusal_escalates_and_both_answers_are_paid_for(gateway: httpx.Client) -> None:
    response = ask(gateway, "shy", "When are you open?")
    assert response.headers["x-keel-tier"] == "strong"
    assert response.headers["x-keel-escalation"] == "cheap: refusal"
    assert response.headers["x-keel-deployment"] == "large"
    assert "sorry" not in response.json()["choices"][0]["message"]["content"].lower()
    record = logged(gateway, response.headers["x-request-id"])
    assert (record["tier"], record["escalation"]) == ("strong", "cheap: refusal")
    attempts = record["attempts"]
    assert isinstance(attempts, list) and [a["deployment"] for a in attempts] == ["refuser", "large"]
    usage = response.json()["usage"]
    strong = usd(usage["prompt_tokens"], usage["completion_tokens"], "10", "30")
    cost = Decimal(response.headers["x-keel-cost-usd"])
    assert cost > strong, "the refused cheap answer is paid for too"
    prompt = usage["prompt_tokens"]
    refusal = "I'm sorry, but I can't help with that."
    refusal_words = len(refusal.split())
    assert cost == strong + usd(prompt, refusal_words, "1", "2")


def test_labelled_examples_vote_when_the_rules_allow_the_cheap_tier(tmp_path: Path) -> None:
    examples = tmp_path / "examples.jsonl"
    lines = [{"text": "what time do you open", "tier": "cheap"}, {"text": "when are you open today", "tier": "cheap"}]
    lines += [{"text": "compare the warranty terms of both plans", "tier": "strong"}] * 3
    examples.write_text("\n".join(json.dumps(line) for line in lines))
    config = CONFIG.replace(
        "classifier: {max_prompt_tokens: 40, strong_keywords: [refund]}",
        f"classifier: {{max_prompt_tokens: 40, examples: {examples}, neighbours: 3}}",
    )
    with serve(tmp_path, config) as client:
        assert ask(client, "support", "compare the warranty terms of both plans").headers["x-keel-tier"] == "strong"
        assert ask(client, "support", "what time do you open").headers["x-keel-tier"] == "cheap"
