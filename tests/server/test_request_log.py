"""Every request lands in the request log with its outcome, off the request path."""

from __future__ import annotations

import secrets
import time

import openai
import pytest

from tests.conftest import ADMIN_KEY
from tests.server.conftest import Gateway


def recent(gateway: Gateway, request_id: str, timeout: float = 5.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    with gateway.admin() as admin:
        while time.monotonic() < deadline:
            for record in admin.get("/admin/requests", params={"limit": 200}).json()["data"]:
                if record["request_id"] == request_id:
                    return dict(record)
            time.sleep(0.05)
    raise AssertionError(f"{request_id} never reached the request log")


def test_success_is_recorded_with_tokens_key_and_config_hash(gateway: Gateway) -> None:
    key = gateway.create_key(["chat"], team="support", feature="triage", owner="ana")
    client = openai.OpenAI(base_url=gateway.base_url, api_key=key)
    raw = client.chat.completions.with_raw_response.create(model="chat", messages=[{"role": "user", "content": "hi"}])
    completion = raw.parse()
    record = recent(gateway, raw.headers["x-request-id"])
    assert record["status"] == 200 and record["route"] == "chat" and record["deployment"] == "sim-local"
    assert record["team"] == "support" and record["feature"] == "triage"
    assert record["config_hash"] == raw.headers["x-keel-config-hash"]
    assert completion.usage is not None
    assert record["prompt_tokens"] == completion.usage.prompt_tokens
    assert record["completion_tokens"] == completion.usage.completion_tokens
    assert record["request_body"] is None  # the route did not opt in
    attempts = record["attempts"]
    assert isinstance(attempts, list) and attempts[0]["deployment"] == "sim-local"


def test_stream_records_usage_ttft_and_bodies_when_route_opts_in(gateway: Gateway) -> None:
    client = openai.OpenAI(base_url=gateway.base_url, api_key=ADMIN_KEY)
    raw = client.chat.completions.with_raw_response.create(
        model="remote", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    chunks = list(raw.parse())
    assert chunks
    record = recent(gateway, raw.headers["x-request-id"])
    assert record["stream"] is True and record["status"] == 200
    assert isinstance(record["completion_tokens"], int) and record["completion_tokens"] > 0
    assert isinstance(record["ttft_ms"], float)
    assert record["request_body"] == {
        "model": "remote",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
    }


def test_failures_are_recorded_with_their_error_class(gateway: Gateway) -> None:
    client = openai.OpenAI(base_url=gateway.base_url, api_key=ADMIN_KEY, max_retries=0)
    try:
        client.chat.completions.with_raw_response.create(model="garbage", messages=[{"role": "user", "content": "x"}])
    except openai.InternalServerError as exc:
        request_id = exc.response.headers["x-request-id"]
    record = recent(gateway, request_id)
    assert record["status"] == 502 and record["error_class"] == "UpstreamBadResponse"
    attempts = record["attempts"]
    assert isinstance(attempts, list) and attempts[0]["error_class"] == "UpstreamBadResponse"


def test_cost_is_priced_recorded_and_reported(gateway: Gateway) -> None:
    key = gateway.create_key(["chat"], team="pricing-team")
    client = openai.OpenAI(base_url=gateway.base_url, api_key=key)
    raw = client.chat.completions.with_raw_response.create(model="chat", messages=[{"role": "user", "content": "hi"}])
    usage = raw.parse().usage
    assert usage is not None
    expected = (usage.prompt_tokens * 1.5 + usage.completion_tokens * 6.0) / 1_000_000
    assert float(raw.headers["x-keel-cost-usd"]) == pytest.approx(expected, abs=1e-9)
    record = recent(gateway, raw.headers["x-request-id"])
    assert record["cost_usd"] == pytest.approx(expected, abs=1e-9) and record["cost_estimated"] is False
    with gateway.admin() as admin:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            rows = admin.get("/admin/spend", params={"by": "team", "since": "1h", "team": "pricing-team"}).json()
            if rows["data"] and rows["data"][0]["requests"] == 1:
                break
            time.sleep(0.05)
        assert rows["data"] == [
            {
                "group": "pricing-team",
                "requests": 1,
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "cost_usd": f"{expected:.9f}",
            }
        ]
        assert admin.get("/admin/spend", params={"by": "colour"}).status_code == 400


def test_the_callers_traceparent_is_kept_when_valid(gateway: Gateway) -> None:
    client = openai.OpenAI(base_url=gateway.base_url, api_key=ADMIN_KEY)
    trace_id = secrets.token_hex(16)
    traceparent = f"00-{trace_id}-00f067aa0ba902b7-01"
    ids = []
    for header in (traceparent, "00-not-a-trace-01", None):
        raw = client.chat.completions.with_raw_response.create(
            model="chat",
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"traceparent": header} if header else None,
        )
        ids.append(raw.headers["x-request-id"])
    assert [recent(gateway, request_id)["traceparent"] for request_id in ids] == [traceparent, None, None]

    with gateway.admin() as admin:
        joined = admin.get("/admin/requests", params={"trace_id": trace_id}).json()["data"]
        assert [r["request_id"] for r in joined] == ids[:1]


def test_the_admin_request_log_filters_and_finds_one_request(gateway: Gateway) -> None:
    client = openai.OpenAI(base_url=gateway.base_url, api_key=ADMIN_KEY, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(model="chat", messages=[{"role": "user", "content": "hi"}])
    request_id = raw.headers["x-request-id"]
    recent(gateway, request_id)
    with gateway.admin() as admin:
        one = admin.get(f"/admin/requests/{request_id}")
        assert one.status_code == 200 and one.json()["request_id"] == request_id

        rows = admin.get("/admin/requests", params={"route": "chat", "status": "200", "since": "1h", "limit": 5})
        data = rows.json()["data"]
        assert 1 <= len(data) <= 5 and all(r["route"] == "chat" and r["status"] == 200 for r in data)
        assert admin.get("/admin/requests", params={"status": "404", "route": "chat", "since": "1h"}).json() == {
            "object": "list",
            "data": [],
        }

        missing = admin.get("/admin/requests/req_nope")
        assert missing.status_code == 404 and "req_nope" in missing.json()["error"]["message"]
        for params, named in (
            ({"status": "ok"}, "status"),
            ({"trace_id": "XYZ"}, "trace_id"),
            ({"since": "yesterday-ish"}, "since"),
            ({"colour": "red"}, "colour"),
        ):
            bad = admin.get("/admin/requests", params=params)
            assert bad.status_code == 400 and bad.json()["error"]["param"] == named, bad.text
