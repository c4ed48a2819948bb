"""The semantic cache through a running gateway: retyped questions are answered from it, others are not."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.server.served import logged, serve

CONFIG = """\
storage: {log_flush_interval_s: 0.05}
routes:
  faq-bot:
    deployments: [sim]
    semantic_cache: {ttl_s: 600}
  other: {deployments: [sim]}
deployments:
  sim:
    provider: simulator
    model: sim-faq
    price: {input_per_mtok: 1.0, output_per_mtok: 2.0}
"""


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    workdir = tmp_path_factory.mktemp("semantic")
    with serve(workdir, CONFIG) as client:
        yield client


def ask(client: httpx.Client, route: str, text: str, **extra: object) -> httpx.Response:
    body = {"model": route, "messages": [{"role": "user", "content": text}], **extra}
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    return response


def test_a_retyped_question_is_answered_from_the_semantic_cache(gateway: httpx.Client) -> None:
    first = ask(gateway, "faq-bot", "How do I reset my password for the customer portal?")
    assert "x-keel-cache" not in first.headers
    again = ask(gateway, "faq-bot", "how do i reset my password for the customer portal")
    assert again.headers["x-keel-cache"] == "semantic-hit"
    assert float(again.headers["x-keel-cache-similarity"]) >= 0.86
    assert again.json()["choices"] == first.json()["choices"]
    assert float(again.headers["x-keel-cost-usd"]) == 0.0
    record = logged(gateway, again.headers["x-request-id"])
    assert record["cache"] == "semantic_hit" and record["attempts"] == []


def test_a_different_question_or_number_or_route_is_not_a_hit(gateway: httpx.Client) -> None:
    ask(gateway, "faq-bot", "Can I return shoes after 30 days?")
    assert "x-keel-cache" not in ask(gateway, "faq-bot", "Can I return shoes after 60 days?").headers
    assert "x-keel-cache" not in ask(gateway, "faq-bot", "Where is my parcel from last week?").headers
    assert "x-keel-cache" not in ask(gateway, "other", "Can I return shoes after 30 days?").headers


def test_a_hit_replays_as_a_stream_and_the_cache_can_be_bypassed(gateway: httpx.Client) -> None:
    ask(gateway, "faq-bot", "What payment methods do you accept online?")
    with gateway.stream(
        "POST",
        "/v1/chat/completions",
        json={
            "model": "faq-bot",
            "messages": [{"role": "user", "content": "what payment methods do you accept online"}],
            "stream": True,
        },
    ) as response:
        raw = response.read().decode()
    assert response.headers["x-keel-cache"] == "semantic-hit" and raw.rstrip().endswith("data: [DONE]")
    assert any(json.loads(line[6:]).get("choices") for line in raw.splitlines() if line.startswith("data: {"))
    bypassed = gateway.post(
        "/v1/chat/completions",
        json={
            "model": "faq-bot",
            "messages": [{"role": "user", "content": "what payment methods do you accept online"}],
        },
        headers={"x-keel-cache": "bypass"},
    )
    assert "x-keel-cache-similarity" not in bypassed.headers
