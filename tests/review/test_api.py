"""The review admin API on a running gateway: a weak answer is queued, then listed, read and decided."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from keel.config.loader import load_runtime_config
from keel.server.app import build_app
from keel.services.runtime import Runtime
from keel.store.sql_feedback import SqlFeedbackStore

ADMIN_KEY = "sk-admin-review-tests"
ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}
CONFIG = """\
version: 1
storage: {data_dir: DIR/data, database_url: "sqlite:///DIR/keel.db", log_flush_interval_s: 0.05}
auth: {anonymous: {routes: ["*"]}}
routes:
  faq-bot: {deployments: [faq], confidence: {threshold: 0.8}}
deployments:
  faq: {provider: faq, faq: {file: faq.yaml}}
"""
FAQ = 'entries:\n  - {question: "How long do refunds take?", answer: "Refunds take 5 to 7 working days."}\n'


@pytest.fixture
async def client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[TestClient[web.Request, web.Application], Runtime]]:
    monkeypatch.setenv("KEEL_ADMIN_KEY", ADMIN_KEY)
    (tmp_path / "faq.yaml").write_text(FAQ)
    path = tmp_path / "keel.yaml"
    path.write_text(CONFIG.replace("DIR", str(tmp_path)))
    runtime = Runtime(load_runtime_config(path), path)
    await runtime.start()
    try:
        async with TestClient(TestServer(build_app(runtime))) as test_client:
            yield test_client, runtime
    finally:
        await runtime.aclose()


async def ask(client: TestClient[web.Request, web.Application], question: str) -> tuple[dict[str, str], str]:
    body = {"model": "faq-bot", "messages": [{"role": "user", "content": question}]}
    response = await client.post("/v1/chat/completions", json=body)
    assert response.status == 200
    return dict(response.headers), response.headers["x-request-id"]


async def logged_confidence(runtime: Runtime, request_id: str) -> float | None:
    for _ in range(200):
        found = [r for r in await runtime.request_log.recent(10) if r.request_id == request_id]
        if found:
            return found[0].confidence
        await asyncio.sleep(0.02)
    raise AssertionError(f"{request_id} never reached the request log")


async def test_a_queued_answer_is_listed_read_and_decided_once(
    client: tuple[TestClient[web.Request, web.Application], Runtime],
) -> None:
    http, runtime = client
    headers, request_id = await ask(http, "My refund has not come, mail ada@example.com")
    assert (headers["x-keel-low-confidence"], headers["x-keel-review"]) == ("kept", "queued")
    confident, _ = await ask(http, "How long do refunds take?")
    assert confident["x-keel-confidence"] == "1.0000" and "x-keel-review" not in confident
    assert await logged_confidence(runtime, request_id) == float(headers["x-keel-confidence"])

    listed = await (await http.get("/admin/reviews", headers=ADMIN)).json()
    [item] = listed["data"]
    assert (item["request_id"], item["route"], item["status"], item["reason"]) == (
        request_id,
        "faq-bot",
        "pending",
        "low_confidence",
    )
    assert item["messages"] == [{"role": "user", "content": "My refund has not come, mail <EMAIL_1>"}]
    assert item["confidence"] == float(headers["x-keel-confidence"])
    one = await http.get(f"/admin/reviews/{item['id']}", headers=ADMIN)
    assert (one.status, await one.json()) == (200, item)

    url = f"/admin/reviews/{item['id']}"
    missing = await http.post(f"{url}/correct", json={"reviewer": "ann"}, headers=ADMIN)
    assert missing.status == 400 and (await missing.json())["error"]["param"] == "answer"
    fixed = {"answer": "Refunds take 5 to 7 working days after we receive the item.", "reviewer": "ann"}
    done = await http.post(f"{url}/correct", json=fixed, headers=ADMIN)
    decided = await done.json()
    assert (done.status, decided["status"], decided["reviewer"]) == (200, "corrected", "ann")
    again = await http.post(f"{url}/approve", headers=ADMIN)
    assert again.status == 409
    assert (await again.json())["error"]["code"] == "review_decided"
    [feedback] = await SqlFeedbackStore(runtime.db).for_requests([request_id])
    assert (feedback.score, feedback.label) == (0.0, "corrected")

    assert (await (await http.get("/admin/reviews", headers=ADMIN)).json())["data"] == []
    everything = await http.get("/admin/reviews", params={"status": "all", "route": "faq-bot"}, headers=ADMIN)
    assert [r["id"] for r in (await everything.json())["data"]] == [item["id"]]


async def test_the_api_is_for_the_admin_and_checks_its_input(
    client: tuple[TestClient[web.Request, web.Application], Runtime],
) -> None:
    http, _ = client
    assert (await http.get("/admin/reviews")).status == 403
    assert (await http.post("/admin/reviews/rv_x/approve")).status == 403
    assert (await http.get("/admin/reviews/rv_x", headers=ADMIN)).status == 404
    assert (await http.post("/admin/reviews/rv_x/reject", headers=ADMIN)).status == 404
    for params in ({"status": "done"}, {"limit": "0"}, {"limit": "many"}):
        assert (await http.get("/admin/reviews", params=params, headers=ADMIN)).status == 400
    bad_body = await http.post("/admin/reviews/rv_x/approve", data=b"[1]", headers=ADMIN)
    assert bad_body.status == 400
    not_text = await http.post("/admin/reviews/rv_x/approve", json={"note": 3}, headers=ADMIN)
    assert (await not_text.json())["error"]["param"] == "note"
