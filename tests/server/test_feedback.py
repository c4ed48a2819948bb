"""Feedback through a running gateway: accepted, checked, redacted, and summarised per route and deployment."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.server.served import serve

CONFIG = """\
storage: {log_flush_interval_s: 0.05}
routes:
  bot: {deployments: [a]}
  helper: {deployments: [b]}
deployments:
  a: {provider: simulator}
  b: {provider: simulator}
"""


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, Path]]:
    workdir: Path = tmp_path_factory.mktemp("feedback")
    with serve(workdir, CONFIG) as client:
        yield client, workdir


def ask(client: httpx.Client, route: str) -> str:
    body = {"model": route, "messages": [{"role": "user", "content": "hi"}]}
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    return response.headers["x-request-id"]


def test_feedback_is_summarised_per_route_and_deployment(gateway: tuple[httpx.Client, Path]) -> None:
    client, workdir = gateway
    bot = [ask(client, "bot") for _ in range(3)]
    helper = ask(client, "helper")
    for request_id, score, label in ((bot[0], 1.0, "correct"), (bot[1], 0.0, "wrong"), (bot[2], 0.5, None)):
        body = {"request_id": request_id, "score": score, **({"label": label} if label else {})}
        response = client.post("/v1/feedback", json=body)
        assert response.status_code == 200, response.text
        assert response.json()["request_id"] == request_id
    client.post(
        "/v1/feedback",
        json={"request_id": helper, "label": "wrong", "comment": "it sent my data to jane.doe@example.com"},
    ).raise_for_status()
    deadline = time.monotonic() + 10
    while True:  # the request log is written in the background; feedback joins it once it is there
        rows = {r["group"]: r for r in client.get("/admin/feedback", params={"by": "route"}).json()["data"]}
        if set(rows) == {"bot", "helper"} or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert rows["bot"]["count"] == 3 and rows["bot"]["scored"] == 3 and rows["bot"]["mean_score"] == pytest.approx(0.5)
    assert rows["bot"]["labels"] == {"correct": 1, "wrong": 1}
    assert rows["helper"] == {"group": "helper", "count": 1, "scored": 0, "mean_score": None, "labels": {"wrong": 1}}
    by_deployment = client.get("/admin/feedback", params={"by": "deployment"}).json()["data"]
    assert {r["group"] for r in by_deployment} == {"a", "b"}
    with sqlite3.connect(workdir / ".keel" / "keel.db") as db:
        (comment,) = db.execute("SELECT comment FROM feedback WHERE request_id = ?", (helper,)).fetchone()
    assert comment == "it sent my data to <EMAIL_1>"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"request_id": "r1"}, "give a score (0 to 1) or a label"),
        ({"request_id": "r1", "score": 2}, "score"),
        ({"request_id": "r1", "score": 1, "extra": True}, "extra"),
        ({"score": 1}, "request_id"),
    ],
)
def test_bad_feedback_is_a_400_naming_the_problem(
    gateway: tuple[httpx.Client, Path], body: dict[str, object], fragment: str
) -> None:
    client, _ = gateway
    response = client.post("/v1/feedback", json=body)
    assert response.status_code == 400
    assert fragment in response.json()["error"]["message"]


def test_feedback_needs_a_key(gateway: tuple[httpx.Client, Path]) -> None:
    client, _ = gateway
    response = httpx.post(f"{client.base_url}/v1/feedback", json={"request_id": "r", "score": 1})
    assert response.status_code == 401
