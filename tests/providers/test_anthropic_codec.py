"""The anthropic codec: OpenAI chat requests → Anthropic Messages requests, and Messages back.

Encoded requests are checked against the official SDK's request types (``request_problems``); decoded
answers against the official OpenAI SDK's ``ChatCompletion``.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import orjson
import pytest
from anthropic.types import Message, TextBlock, ThinkingBlock, ToolUseBlock, Usage
from hypothesis import given
from hypothesis import strategies as st
from openai.types.chat import ChatCompletion

from keel.core.errors import InvalidRequest, KeelError, UpstreamBadResponse, UpstreamUnavailable
from keel.providers.anthropic import AnthropicCodec
from keel.providers.base import Codec, Target
from tests.fakes.anthropic_upstream import error_body, request_problems

Json = dict[str, Any]

TARGET = Target(
    api_base="https://api.anthropic.com",
    model="claude-sonnet-4-5",
    api_key="sk-ant-test",
    auth_header="x-api-key",
)


class FixedClock:
    def monotonic(self) -> float:
        return 0.0

    def now(self) -> float:
        return 1_700_000_000.5


CODEC = AnthropicCodec(clock=FixedClock())


def encode(body: Json, *, stream: bool = False, target: Target = TARGET) -> Json:
    """The Anthropic body the codec sends, after proving the real API would accept it."""
    call = CODEC.chat_request(body, target, stream=stream)
    payload: Json = orjson.loads(call.body)
    assert request_problems(payload) == []
    return payload


def chat(*messages: Json, **fields: Any) -> Json:
    return {"model": "keel-route-alias", "messages": list(messages), **fields}


def user(content: Any) -> Json:
    return {"role": "user", "content": content}


def decode(message: Message) -> ChatCompletion:
    completion = CODEC.chat_response(orjson.dumps(message.model_dump(mode="json")), TARGET)
    return ChatCompletion.model_validate(completion)


def anthropic_message(*content: TextBlock | ToolUseBlock | ThinkingBlock, **fields: Any) -> Message:
    defaults: Json = {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": list(content),
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": Usage(input_tokens=25, output_tokens=11),
    }
    return Message(**{**defaults, **fields})


def test_the_codec_satisfies_the_protocol() -> None:
    codec: Codec = CODEC
    assert codec.name == "anthropic"


# --------------------------------------------------------------------------- the HTTP call


def test_call_goes_to_messages_with_anthropic_headers() -> None:
    call = CODEC.chat_request(chat(user("hi")), TARGET, stream=False)
    assert call.method == "POST"
    assert call.url == "https://api.anthropic.com/v1/messages"
    assert call.headers == {
        "content-type": "application/json",
        "anthropic-version": "2023-06-01",
        "x-api-key": "sk-ant-test",
    }


@pytest.mark.parametrize(
    "api_base",
    [
        "https://api.anthropic.com",
        "https://api.anthropic.com/",
        "https://api.anthropic.com/v1",
        "https://api.anthropic.com/v1/",
    ],
)
def test_url_never_doubles_the_version(api_base: str) -> None:
    target = Target(api_base=api_base, model="m", api_key="k", auth_header="x-api-key")
    assert CODEC.chat_request(chat(user("hi")), target, stream=False).url == "https://api.anthropic.com/v1/messages"


def test_configured_headers_are_sent_and_override_the_version() -> None:
    target = Target(
        api_base="https://proxy.internal/anthropic",
        model="m",
        api_key="k",
        auth_header="x-api-key",
        headers={"Anthropic-Version": "2024-01-01", "anthropic-beta": "prompt-caching-2024-07-31"},
    )
    call = CODEC.chat_request(chat(user("hi")), target, stream=False)
    assert call.url == "https://proxy.internal/anthropic/v1/messages"
    assert call.headers["anthropic-version"] == "2024-01-01"
    assert call.headers["anthropic-beta"] == "prompt-caching-2024-07-31"
    assert "Anthropic-Version" not in call.headers


def test_no_credentials_when_the_target_has_none() -> None:
    target = Target(api_base="http://localhost:9000", model="m", auth_header="")
    headers = CODEC.chat_request(chat(user("hi")), target, stream=False).headers
    assert "x-api-key" not in headers and "authorization" not in headers


def test_bearer_auth_when_configured() -> None:
    target = Target(api_base="https://gw.example", model="m", api_key="tok", auth_header="authorization")
    assert CODEC.chat_request(chat(user("hi")), target, stream=False).headers["authorization"] == "Bearer tok"


# --------------------------------------------------------------------------- request translation


def test_minimal_request_uses_the_deployment_model_and_a_default_max_tokens() -> None:
    assert encode(chat(user("Hello"))) == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}],
    }


def test_streaming_request_sets_stream() -> None:
    payload = encode(chat(user("Hello"), stream=True, stream_options={"include_usage": True}), stream=True)
    assert payload["stream"] is True
    assert "stream_options" not in payload


def test_system_and_developer_messages_become_the_system_prompt() -> None:
    payload = encode(
        chat(
            {"role": "system", "content": "You are terse."},
            {
                "role": "developer",
                "content": [{"type": "text", "text": "Answer in"}, {"type": "text", "text": "French."}],
            },
            user("Hi"),
            {"role": "system", "content": "Never apologise."},
        )
    )
    assert payload["system"] == "You are terse.\n\nAnswer in\nFrench.\n\nNever apologise."
    assert payload["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]


def test_multi_part_user_content_with_images() -> None:
    payload = encode(
        chat(
            user(
                [
                    {"type": "text", "text": "What is in these?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                    {"type": "image_url", "image_url": {"url": "data:image/jpg;base64,/9j/4AAQ", "detail": "low"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.webp"}},
                ]
            )
        )
    )
    assert payload["messages"][0]["content"] == [
        {"type": "text", "text": "What is in these?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.webp"}},
    ]


@pytest.mark.parametrize(
    ("part", "param"),
    [
        (
            {"type": "image_url", "image_url": {"url": "data:image/tiff;base64,AAAA"}},
            "messages[0].content[0].image_url",
        ),
        ({"type": "image_url", "image_url": {"url": "ftp://example.com/a.png"}}, "messages[0].content[0].image_url"),
        ({"type": "image_url", "image_url": {"url": "data:image/png,rawbytes"}}, "messages[0].content[0].image_url"),
        ({"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}, "messages[0].content[0].type"),
        ({"type": "text"}, "messages[0].content[0].text"),
    ],
)
def test_content_anthropic_cannot_take_is_rejected(part: Json, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        CODEC.chat_request(chat(user([part])), TARGET, stream=False)
    assert caught.value.param == param


def test_consecutive_same_role_messages_are_merged() -> None:
    payload = encode(
        chat(
            user("one"),
            user([{"type": "text", "text": "two"}]),
            {"role": "assistant", "content": "three"},
            {"role": "assistant", "content": [{"type": "text", "text": "four"}]},
            user("five"),
        )
    )
    assert payload["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "three"}, {"type": "text", "text": "four"}]},
        {"role": "user", "content": [{"type": "text", "text": "five"}]},
    ]


def test_empty_messages_contribute_nothing() -> None:
    payload = encode(chat(user("a"), {"role": "assistant", "content": ""}, user("b")))
    assert payload["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
    ]


WEATHER_TOOL: Json = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def test_tool_calls_and_results_round_trip() -> None:
    payload = encode(
        chat(
            user("Weather in Paris and Oslo?"),
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "toolu_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    },
                    {
                        "id": "toolu_2",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "toolu_1", "content": "18C sunny"},
            {"role": "tool", "tool_call_id": "toolu_2", "content": [{"type": "text", "text": "4C rain"}]},
            user("Thanks, summarise."),
            tools=[WEATHER_TOOL],
        )
    )
    assert payload["tools"] == [
        {
            "name": "get_weather",
            "description": "Weather for a city.",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        }
    ]
    assert payload["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"city": "Oslo"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C sunny"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "4C rain"},
                {"type": "text", "text": "Thanks, summarise."},
            ],
        },
    ]


def test_assistant_text_comes_before_its_tool_use() -> None:
    payload = encode(
        chat(
            user("Weather?"),
            {
                "role": "assistant",
                "content": "Let me check.",
                "tool_calls": [{"id": "t", "type": "function", "function": {"name": "get_weather", "arguments": ""}}],
            },
            {"role": "tool", "tool_call_id": "t", "content": ""},
            tools=[WEATHER_TOOL],
        )
    )
    assert payload["messages"][1]["content"] == [
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "t", "name": "get_weather", "input": {}},
    ]
    assert payload["messages"][2]["content"] == [{"type": "tool_result", "tool_use_id": "t"}]


@pytest.mark.parametrize("arguments", ["{not json", "[1, 2]", '"a string"'])
def test_tool_call_arguments_must_be_a_json_object(arguments: str) -> None:
    body = chat(
        user("x"),
        {
            "role": "assistant",
            "tool_calls": [{"id": "t", "type": "function", "function": {"name": "f", "arguments": arguments}}],
        },
    )
    with pytest.raises(InvalidRequest) as caught:
        CODEC.chat_request(body, TARGET, stream=False)
    assert caught.value.param == "messages[1].tool_calls[0].function.arguments"


def test_a_tool_without_parameters_gets_an_empty_object_schema() -> None:
    payload = encode(chat(user("x"), tools=[{"type": "function", "function": {"name": "now"}}]))
    assert payload["tools"] == [{"name": "now", "input_schema": {"type": "object", "properties": {}}}]


@pytest.mark.parametrize(
    ("tool_choice", "parallel", "expected"),
    [
        (None, None, None),
        ("auto", None, {"type": "auto"}),
        ("required", None, {"type": "any"}),
        ("none", None, {"type": "none"}),
        ({"type": "function", "function": {"name": "get_weather"}}, None, {"type": "tool", "name": "get_weather"}),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        ("none", False, {"type": "none"}),
        ("auto", True, {"type": "auto"}),
    ],
)
def test_tool_choice(tool_choice: Any, parallel: bool | None, expected: Json | None) -> None:
    fields: Json = {"tools": [WEATHER_TOOL]}
    if tool_choice is not None:
        fields["tool_choice"] = tool_choice
    if parallel is not None:
        fields["parallel_tool_calls"] = parallel
    payload = encode(chat(user("x"), **fields))
    assert payload.get("tool_choice") == expected


def test_tool_choice_without_tools_is_not_sent() -> None:
    payload = encode(chat(user("x"), tool_choice="auto", parallel_tool_calls=False))
    assert "tool_choice" not in payload and "tools" not in payload


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"tools": [{"type": "code_interpreter"}]}, "tools[0].type"),
        ({"tools": [WEATHER_TOOL], "tool_choice": {"type": "allowed_tools"}}, "tool_choice"),
        ({"n": 2}, "n"),
        ({"response_format": {"type": "xml"}}, "response_format"),
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}}, "response_format.json_schema"),
        ({"max_tokens": 0}, "max_tokens"),
    ],
)
def test_unsupported_request_fields_are_rejected(fields: Json, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        CODEC.chat_request(chat(user("x"), **fields), TARGET, stream=False)
    assert caught.value.param == param
    assert caught.value.status == 400


def test_unknown_role_is_rejected() -> None:
    with pytest.raises(InvalidRequest) as caught:
        CODEC.chat_request(chat({"role": "narrator", "content": "x"}), TARGET, stream=False)
    assert caught.value.param == "messages[0].role"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, 4096),
        ({"max_tokens": 100}, 100),
        ({"max_completion_tokens": 200}, 200),
        ({"max_tokens": 100, "max_completion_tokens": 300}, 300),
    ],
)
def test_max_tokens(fields: Json, expected: int) -> None:
    assert encode(chat(user("x"), **fields))["max_tokens"] == expected


def test_sampling_stop_and_user() -> None:
    payload = encode(
        chat(
            user("x"),
            temperature=0.2,
            top_p=0.9,
            stop=["END", "###"],
            user="user-42",
            n=1,
            seed=7,
            presence_penalty=0.5,
        )
    )
    assert payload["temperature"] == 0.2
    assert payload["top_p"] == 0.9
    assert payload["stop_sequences"] == ["END", "###"]
    assert payload["metadata"] == {"user_id": "user-42"}
    assert not {"seed", "presence_penalty", "n", "user", "stop"} & payload.keys()


def test_a_single_stop_string_becomes_a_list() -> None:
    assert encode(chat(user("x"), stop="END"))["stop_sequences"] == ["END"]


def test_json_object_response_format_asks_for_json_in_the_system_prompt() -> None:
    payload = encode(
        chat({"role": "system", "content": "Be helpful."}, user("x"), response_format={"type": "json_object"})
    )
    assert payload["system"].startswith("Be helpful.\n\n")
    assert "JSON object" in payload["system"]


def test_json_schema_response_format_puts_the_schema_in_the_system_prompt() -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"]}
    payload = encode(
        chat(user("x"), response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": schema}})
    )
    schema_text = payload["system"].rsplit("\n", 1)[-1]
    assert json.loads(schema_text) == schema


def test_text_response_format_changes_nothing() -> None:
    assert "system" not in encode(chat(user("x"), response_format={"type": "text"}))


# --------------------------------------------------------------------------- responses


def test_text_response() -> None:
    completion = decode(anthropic_message(TextBlock(type="text", text="Hello! "), TextBlock(type="text", text="Bye.")))
    assert completion.id == "chatcmpl-msg_01XFDUDYJgAACzvnptvVoYEL"
    assert completion.object == "chat.completion"
    assert completion.created == 1_700_000_000
    assert completion.model == "claude-sonnet-4-5-20250929"
    choice = completion.choices[0]
    assert choice.index == 0
    assert choice.message.role == "assistant"
    assert choice.message.content == "Hello! Bye."
    assert choice.message.tool_calls is None
    assert choice.finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens, completion.usage.total_tokens) == (
        25,
        11,
        36,
    )


def test_tool_use_only_response_has_no_content() -> None:
    completion = decode(
        anthropic_message(
            ToolUseBlock(type="tool_use", id="toolu_1", name="get_weather", input={"city": "Paris", "days": [1, 2]}),
            stop_reason="tool_use",
        )
    )
    message = completion.choices[0].message
    assert message.content is None
    assert completion.choices[0].finish_reason == "tool_calls"
    assert message.tool_calls is not None
    [call] = message.tool_calls
    assert call.id == "toolu_1" and call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris", "days": [1, 2]}


def test_text_and_several_tool_uses() -> None:
    completion = decode(
        anthropic_message(
            TextBlock(type="text", text="Checking both."),
            ThinkingBlock(type="thinking", thinking="hmm", signature="sig"),
            ToolUseBlock(type="tool_use", id="a", name="f", input={}),
            ToolUseBlock(type="tool_use", id="b", name="g", input={"x": 1}),
            stop_reason="tool_use",
        )
    )
    message = completion.choices[0].message
    assert message.content == "Checking both."
    assert [c.id for c in message.tool_calls or []] == ["a", "b"]
    assert [c.function.arguments for c in message.tool_calls or []] == ["{}", '{"x":1}']  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
    ],
)
def test_stop_reason_mapping(stop_reason: str, finish_reason: str) -> None:
    completion = decode(anthropic_message(TextBlock(type="text", text="x"), stop_reason=stop_reason))
    assert completion.choices[0].finish_reason == finish_reason


def test_usage_counts_cache_tokens_as_prompt_tokens() -> None:
    usage = Usage(input_tokens=10, cache_creation_input_tokens=200, cache_read_input_tokens=1000, output_tokens=50)
    completion = decode(anthropic_message(TextBlock(type="text", text="x"), usage=usage))
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 1210
    assert completion.usage.completion_tokens == 50
    assert completion.usage.total_tokens == 1260
    assert completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == 1000


def test_an_empty_answer_has_empty_content() -> None:
    completion = decode(anthropic_message())
    assert completion.choices[0].message.content == ""


def test_a_sparse_but_valid_body_decodes() -> None:
    body = {
        "id": "msg_1",
        "model": "claude-haiku-4-5",
        "content": [{"type": "text", "text": "ok"}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 1, "output_tokens": 2},
    }
    completion = ChatCompletion.model_validate(CODEC.chat_response(orjson.dumps(body), TARGET))
    assert completion.choices[0].message.content == "ok"


GOOD_BODY: Json = anthropic_message(TextBlock(type="text", text="x")).model_dump(mode="json")


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"<html>502 Bad Gateway</html>",
        b"[]",
        b'"message"',
        b"{}",
        orjson.dumps({**GOOD_BODY, "type": "completion"}),
        orjson.dumps({**GOOD_BODY, "content": "x"}),
        orjson.dumps({**GOOD_BODY, "content": ["x"]}),
        orjson.dumps({**GOOD_BODY, "content": [{"type": "text", "text": 5}]}),
        orjson.dumps({**GOOD_BODY, "content": [{"type": "tool_use", "name": "f", "input": {}}]}),
        orjson.dumps({**GOOD_BODY, "id": None}),
        orjson.dumps({**GOOD_BODY, "usage": None}),
        orjson.dumps({**GOOD_BODY, "usage": {"input_tokens": "3", "output_tokens": 1}}),
        orjson.dumps({**GOOD_BODY, "usage": {"input_tokens": 3}}),
    ],
)
def test_garbage_is_a_bad_response(payload: bytes) -> None:
    with pytest.raises(UpstreamBadResponse) as caught:
        CODEC.chat_response(payload, TARGET)
    assert caught.value.message.startswith("anthropic: ")


def test_an_error_inside_a_200_is_classified() -> None:
    with pytest.raises(UpstreamUnavailable, match="anthropic: Overloaded"):
        CODEC.chat_response(orjson.dumps(error_body("overloaded_error", "Overloaded")), TARGET)


@given(st.binary(max_size=300))
def test_any_bytes_decode_or_raise_a_keel_error(payload: bytes) -> None:
    with contextlib.suppress(KeelError):
        ChatCompletion.model_validate(CODEC.chat_response(payload, TARGET))


# --------------------------------------------------------------------------- embeddings


def test_embeddings_are_unsupported() -> None:
    body = {"model": "x", "input": "hello"}
    with pytest.raises(InvalidRequest) as caught:
        CODEC.embeddings_request(body, TARGET)
    assert caught.value.code == "unsupported_endpoint"
    with pytest.raises(InvalidRequest):
        CODEC.embeddings_response(b"{}", TARGET)
