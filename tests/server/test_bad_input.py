"""Bad input over raw HTTP: every case is a 4xx in OpenAI's error shape that names the problem."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import ADMIN_KEY
from tests.server.conftest import Gateway

AUTH = {"authorization": f"Bearer {ADMIN_KEY}"}


def post(gateway: Gateway, path: str, content: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(
        gateway.url + path, content=content, headers={**AUTH, "content-type": "application/json", **(headers or {})}
    )


def assert_openai_error(resp: httpx.Response, status: int, param: str | None = None, contains: str = "") -> None:
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["param"] == param
    assert contains in error["message"]
    assert resp.headers["x-request-id"]


@pytest.mark.parametrize(
    ("body", "param", "contains"),
    [
        (b"{not json", "body", "not valid JSON"),
        (b"", "body", "empty"),
        (b"[1, 2]", "body", "JSON object"),
        (b'{"messages": [{"role": "user", "content": "x"}]}', "model", "required"),
        (b'{"model": "chat", "messages": "hello"}', "messages", "valid list"),
        (b'{"model": "chat", "messages": [{"role": "robot", "content": "x"}]}', "messages[0]", "robot"),
        (b'{"model": "chat", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}', "temperature", ""),
        (b'{"model": "chat", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}', "stream", ""),
        (b'{"model": 5, "messages": [{"role": "user", "content": "x"}]}', "model", "string"),
    ],
)
def test_malformed_chat_requests(gateway: Gateway, body: bytes, param: str, contains: str) -> None:
    assert_openai_error(post(gateway, "/v1/chat/completions", body), 400, param, contains)


def test_bad_embeddings_request(gateway: Gateway) -> None:
    assert_openai_error(post(gateway, "/v1/embeddings", b'{"model": "embed", "input": []}'), 400, "input")


def test_oversized_body_is_413(gateway: Gateway) -> None:
    big = b'{"model": "chat", "messages": [{"role": "user", "content": "' + b"x" * 70_000 + b'"}]}'
    resp = post(gateway, "/v1/chat/completions", big)
    assert resp.status_code == 413
    assert resp.json()["error"]["code"] == "payload_too_large"


def test_unknown_path_and_wrong_method(gateway: Gateway) -> None:
    resp = httpx.get(gateway.url + "/v1/nothing-here", headers=AUTH)
    assert resp.status_code == 404 and resp.json()["error"]["message"].startswith("no such endpoint")
    resp = httpx.get(gateway.url + "/v1/chat/completions", headers=AUTH)
    assert resp.status_code == 405 and "POST" in resp.headers["allow"]


def test_missing_and_malformed_authorization(gateway: Gateway) -> None:
    body = b'{"model": "chat", "messages": [{"role": "user", "content": "x"}]}'
    resp = httpx.post(gateway.url + "/v1/chat/completions", content=body)
    assert_openai_error(resp, 401, None, "Missing API key")
    resp = httpx.post(gateway.url + "/v1/chat/completions", content=body, headers={"authorization": "Basic abc"})
    assert resp.status_code == 401


def test_admin_api_needs_the_admin_key(gateway: Gateway) -> None:
    key = gateway.create_key(["chat"])
    resp = httpx.get(gateway.url + "/admin/keys", headers={"authorization": f"Bearer {key}"})
    assert_openai_error(resp, 403, None, "admin key")
    with gateway.admin() as admin:
        resp = admin.post("/admin/keys", json={"name": "x", "allowed": "chat"})
        assert_openai_error(resp, 400, "allowed")
        assert admin.delete("/admin/keys/key_nope").status_code == 404


def test_health_ready_and_metrics(gateway: Gateway) -> None:
    assert httpx.get(gateway.url + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(gateway.url + "/readyz").json()
    assert ready["status"] == "ready" and ready["config_hash"]
    httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": "chat", "messages": [{"role": "user", "content": "x"}]},
        headers=AUTH,
    ).raise_for_status()
    metrics = httpx.get(gateway.url + "/metrics").text
    assert 'keel_overhead_seconds_bucket{endpoint="chat.completions"' in metrics
    assert (
        'keel_requests_total{deployment="sim-local",endpoint="chat.completions",route="chat",status="200"}' in metrics
    )
