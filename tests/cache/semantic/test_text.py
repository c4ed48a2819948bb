"""Which requests the semantic cache may answer, what it embeds, and what must match exactly."""

from __future__ import annotations

from typing import Any

import pytest

from keel.cache.semantic.text import prompt_text, semantic_key, semantic_partition


def request(question: str = "How do I reset my password?", **extra: Any) -> dict[str, Any]:
    return {
        "model": "support-bot",
        "messages": [
            {"role": "system", "content": "You are the Acme support assistant."},
            {"role": "user", "content": question},
        ],
        "temperature": 0,
        **extra,
    }


def partition(body: dict[str, Any], route: str = "support", model: str | None = "gpt-4o-mini") -> str:
    return semantic_partition(route, model, body)


def test_the_last_user_turn_is_the_text() -> None:
    key = semantic_key("support", "gpt-4o-mini", request("  How do I reset my password?\n"))
    assert key is not None
    assert key.text == "How do I reset my password?"


def test_text_parts_are_joined() -> None:
    body = request()
    body["messages"][-1]["content"] = [{"type": "text", "text": "Reset my"}, {"type": "text", "text": "password"}]
    assert prompt_text(body) == "Reset my\npassword"


def test_wording_of_the_last_turn_does_not_change_the_partition() -> None:
    assert partition(request("How do I reset my password?")) == partition(request("I forgot my password, help"))


@pytest.mark.parametrize(
    "change",
    [
        {"temperature": 0.7},
        {"response_format": {"type": "json_object"}},
        {"max_tokens": 10},
        {"seed": 7},
        {"model": "other-bot"},
    ],
)
def test_answer_shaping_parameters_change_the_partition(change: dict[str, Any]) -> None:
    assert partition(request(**change)) != partition(request())


def test_route_and_deployment_model_change_the_partition() -> None:
    body = request()
    assert partition(body, route="sales") != partition(body)
    assert partition(body, model="gpt-4o") != partition(body)


def test_system_prompt_and_history_must_match_exactly() -> None:
    other_system = request()
    other_system["messages"][0]["content"] = "You are the Acme sales assistant."
    assert partition(other_system) != partition(request())

    def follow_up(previous_answer: str) -> dict[str, Any]:
        body = request("And the blue one?")
        body["messages"][1:1] = [
            {"role": "user", "content": "How much is the jacket?"},
            {"role": "assistant", "content": previous_answer},
        ]
        return body

    assert partition(follow_up("It costs $80.")) != partition(follow_up("It costs $95."))
    assert partition(follow_up("It costs $80.")) == partition(follow_up("It costs $80."))


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Can I return an item within 30 days?", "Can I return an item within 60 days?"),
        ("Is the X200 blender dishwasher safe?", "Is the X300 blender dishwasher safe?"),
        ("Does this work with Python 3.12?", "Does this work with Python 3.11?"),
    ],
)
def test_numbers_in_the_question_must_match_exactly(first: str, second: str) -> None:
    assert partition(request(first)) != partition(request(second))


def test_the_same_numbers_in_other_words_share_a_partition() -> None:
    assert partition(request("Can I return an item within 30 days?")) == partition(
        request("Within 30 days, are returns accepted? Is 30 OK?")
    )


def test_the_speakers_name_stays_exact() -> None:
    named = request()
    named["messages"][-1]["name"] = "alice"
    assert partition(named) != partition(request())


def test_delivery_fields_and_key_order_do_not_matter() -> None:
    streamed = request(stream=True, stream_options={"include_usage": True}, user="u-1")
    reordered = dict(reversed(list(request().items())))
    assert partition(streamed) == partition(request()) == partition(reordered)


@pytest.mark.parametrize(
    "body",
    [
        request(tools=[{"type": "function", "function": {"name": "get_weather"}}]),
        request(functions=[{"name": "get_weather"}]),
        request(n=2),
        request(n=True),
        request(modalities=["text", "audio"], audio={"voice": "alloy", "format": "wav"}),
        request(""),
        request("   \n"),
    ],
    ids=["tools", "functions", "n>1", "n=true", "audio", "empty", "blank"],
)
def test_requests_that_are_not_candidates(body: dict[str, Any]) -> None:
    assert semantic_key("support", "gpt-4o-mini", body) is None


def test_declared_but_empty_tools_do_not_disqualify() -> None:
    assert semantic_key("support", None, request(tools=[], n=1, modalities=["text"])) is not None


def test_a_last_turn_that_is_not_the_users_is_not_a_candidate() -> None:
    body = request()
    body["messages"].append({"role": "assistant", "content": "Sure, which account?"})
    assert prompt_text(body) is None


def test_an_image_in_the_last_turn_disqualifies() -> None:
    body = request()
    body["messages"][-1]["content"] = [
        {"type": "text", "text": "What is wrong with this screen?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
    ]
    assert prompt_text(body) is None


@pytest.mark.parametrize("messages", [None, [], "hello", [None], [{"role": "user", "content": 5}]])
def test_malformed_messages_are_not_candidates(messages: object) -> None:
    assert prompt_text({"messages": messages}) is None
