"""The official openai SDK, unchanged, against a running Keel: sync, async, streams, tools, errors."""

from __future__ import annotations

import json

import openai
import pytest

from tests.conftest import ADMIN_KEY
from tests.server.conftest import Gateway


@pytest.fixture
def client(gateway: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url, api_key=ADMIN_KEY, max_retries=0, timeout=20)


@pytest.fixture
def aclient(gateway: Gateway) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=gateway.base_url, api_key=ADMIN_KEY, max_retries=0, timeout=20)


HELLO = [{"role": "user", "content": "hello there"}]


@pytest.mark.parametrize("model", ["chat", "remote", "claude", "faq", "sim-local"])
def test_chat_completion_on_every_provider_kind(client: openai.OpenAI, model: str) -> None:
    raw = client.chat.completions.with_raw_response.create(model=model, messages=HELLO)  # type: ignore[arg-type]
    completion = raw.parse()
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.total_tokens > 0
    headers = raw.headers
    assert headers["x-request-id"].startswith("req_")
    assert headers["x-keel-route"] == model
    assert headers["x-keel-deployment"]
    assert float(headers["x-keel-overhead-ms"]) >= 0


async def test_async_client_and_streaming_with_usage(aclient: openai.AsyncOpenAI) -> None:
    stream = await aclient.chat.completions.create(
        model="remote",
        messages=HELLO,
        stream=True,
        stream_options={"include_usage": True},  # type: ignore[arg-type]
    )
    text, finish, usage = "", None, None
    async for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
    assert text and finish == "stop"
    assert usage is not None and usage.completion_tokens > 0


@pytest.mark.parametrize("model", ["chat", "remote", "claude", "faq"])
def test_stream_without_usage_request_has_no_usage_chunk(client: openai.OpenAI, model: str) -> None:
    chunks = list(client.chat.completions.create(model=model, messages=HELLO, stream=True))  # type: ignore[arg-type]
    assert chunks and all(c.usage is None for c in chunks)
    assert any(c.choices and c.choices[0].finish_reason for c in chunks)


def test_tools_and_tool_calls(client: openai.OpenAI) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "lookup_order",
                "parameters": {"type": "object", "properties": {"id": {"type": "string"}}},
            },
        }
    ]
    completion = client.chat.completions.create(model="remote", messages=HELLO, tools=tools)  # type: ignore[arg-type]
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls and choice.message.tool_calls[0].function.name == "lookup_order"  # type: ignore[union-attr]


def test_n_and_response_format(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="remote",
        messages=HELLO,
        n=2,
        response_format={"type": "json_object"},  # type: ignore[arg-type]
    )
    assert len(completion.choices) == 2
    assert isinstance(json.loads(completion.choices[0].message.content or ""), dict)


def test_embeddings(client: openai.OpenAI) -> None:
    result = client.embeddings.create(model="embed", input=["one", "two"])
    assert [d.index for d in result.data] == [0, 1]
    assert len(result.data[0].embedding) > 0


def test_models_lists_only_what_the_key_may_use(gateway: Gateway) -> None:
    admin = openai.OpenAI(base_url=gateway.base_url, api_key=ADMIN_KEY)
    assert {"chat", "remote", "claude", "sim-local"} <= {m.id for m in admin.models.list()}
    key = gateway.create_key(["chat", "faq"], team="support")
    limited = openai.OpenAI(base_url=gateway.base_url, api_key=key)
    assert sorted(m.id for m in limited.models.list()) == ["chat", "faq"]
    assert limited.models.retrieve("chat").id == "chat"
    with pytest.raises(openai.NotFoundError):
        limited.models.retrieve("remote")


def test_authentication_and_permission_errors(gateway: Gateway) -> None:
    bad = openai.OpenAI(base_url=gateway.base_url, api_key="sk-keel-not-a-real-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as auth:
        bad.chat.completions.create(model="chat", messages=HELLO)  # type: ignore[arg-type]
    assert auth.value.code == "invalid_api_key"
    key = gateway.create_key(["faq"])
    limited = openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0)
    with pytest.raises(openai.PermissionDeniedError) as denied:
        limited.chat.completions.create(model="chat", messages=HELLO)  # type: ignore[arg-type]
    assert "may not use the model 'chat'" in denied.value.message


def test_revoked_key_is_refused(gateway: Gateway) -> None:
    key = gateway.create_key(["chat"])
    client = openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0)
    client.chat.completions.create(model="chat", messages=HELLO)  # type: ignore[arg-type]
    with gateway.admin() as admin:
        [entry] = [k for k in admin.get("/admin/keys").json()["data"] if k["hint"] == key[:12] + "…"]
        assert admin.delete(f"/admin/keys/{entry['id']}").status_code == 200
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="chat", messages=HELLO)  # type: ignore[arg-type]


def test_unknown_model_and_bad_fields_name_the_problem(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="no-such-route", messages=HELLO)  # type: ignore[arg-type]
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="chat", messages=[{"role": "user"}])  # type: ignore[arg-type,typeddict-item]
    assert bad.value.param == "messages[0].content"
    with pytest.raises(openai.BadRequestError) as bad_n:
        client.chat.completions.create(model="chat", messages=HELLO, n=0)  # type: ignore[arg-type]
    assert bad_n.value.param == "n"


def test_upstream_failures_are_classified(client: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model="rate-limited", messages=HELLO)  # type: ignore[arg-type]
    assert limited.value.response.headers["retry-after"] == "7"
    with pytest.raises(openai.InternalServerError) as garbage:
        client.chat.completions.create(model="garbage", messages=HELLO)  # type: ignore[arg-type]
    assert garbage.value.status_code == 502 and garbage.value.code == "upstream_bad_response"
    with pytest.raises(openai.InternalServerError) as reset:
        client.chat.completions.create(model="reset", messages=HELLO)  # type: ignore[arg-type]
    assert reset.value.code == "upstream_connection_error"
    with pytest.raises(openai.InternalServerError) as slow:
        client.chat.completions.create(model="slow", messages=HELLO)  # type: ignore[arg-type]
    assert slow.value.status_code == 504
    with pytest.raises(openai.InternalServerError) as nokey:
        client.chat.completions.create(model="nokey", messages=HELLO)  # type: ignore[arg-type]
    assert nokey.value.status_code == 503 and "OPENAI_API_KEY" in nokey.value.message


def test_stream_cut_after_first_bytes_ends_with_an_error_event(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(model="cut", messages=HELLO, stream=True)  # type: ignore[arg-type]
    received = 0
    with pytest.raises(openai.APIError) as cut:
        for _ in stream:
            received += 1
    assert received >= 1
    assert "upstream" in cut.value.message


def test_anthropic_errors_map_to_openai_errors(client: openai.OpenAI, gateway: Gateway) -> None:
    gateway.anthropic.fail(529, "overloaded_error", "Overloaded")
    with pytest.raises(openai.InternalServerError) as overloaded:
        client.chat.completions.create(model="claude", messages=HELLO)  # type: ignore[arg-type]
    assert overloaded.value.status_code == 503
    gateway.anthropic.fail(429, "rate_limit_error", "slow down", retry_after=3)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="claude", messages=HELLO)  # type: ignore[arg-type]
