"""The exact cache through a running gateway: hits, stream replay, bypass, and the log."""

from __future__ import annotations

import uuid

import openai

from tests.conftest import ADMIN_KEY
from tests.server.conftest import Gateway
from tests.server.test_request_log import recent


def test_repeat_is_a_hit_served_in_either_form(gateway: Gateway) -> None:
    client = openai.OpenAI(base_url=gateway.base_url, api_key=ADMIN_KEY, max_retries=0)
    messages = [{"role": "user", "content": f"cache me {uuid.uuid4().hex}"}]
    first = client.chat.completions.with_raw_response.create(model="cached", messages=messages)  # type: ignore[arg-type]
    assert first.headers["x-keel-cache"] == "miss"
    second = client.chat.completions.with_raw_response.create(model="cached", messages=messages)  # type: ignore[arg-type]
    assert second.headers["x-keel-cache"] == "hit"
    assert second.parse().id == first.parse().id  # the stored answer, not a new one
    assert second.parse().choices[0].message.content == first.parse().choices[0].message.content
    record = recent(gateway, second.headers["x-request-id"])
    assert record["cache"] == "hit" and record["attempts"] == [] and record["cost_usd"] == 0.0

    streamed = client.chat.completions.create(model="cached", messages=messages, stream=True)  # type: ignore[arg-type]
    text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
    assert text == first.parse().choices[0].message.content

    bypass = client.chat.completions.with_raw_response.create(
        model="cached",
        messages=messages,
        extra_headers={"x-keel-cache": "bypass"},  # type: ignore[arg-type]
    )
    assert bypass.headers["x-keel-cache"] == "bypass" and bypass.parse().id != first.parse().id


def test_a_stream_is_stored_and_replayed_as_a_stream(gateway: Gateway) -> None:
    client = openai.OpenAI(base_url=gateway.base_url, api_key=ADMIN_KEY, max_retries=0)
    messages = [{"role": "user", "content": f"stream me {uuid.uuid4().hex}"}]
    first = client.chat.completions.with_raw_response.create(model="cached", messages=messages, stream=True)  # type: ignore[arg-type]
    assert first.headers["x-keel-cache"] == "miss"
    original = [c.model_dump() for c in first.parse()]
    again = client.chat.completions.with_raw_response.create(model="cached", messages=messages, stream=True)  # type: ignore[arg-type]
    assert again.headers["x-keel-cache"] == "hit"
    assert [c.model_dump() for c in again.parse()] == original
