"""Escalation checks on a cheap tier's answer: each check fires, stays quiet on a good answer, and obeys its flag."""

from __future__ import annotations

from typing import Any

import pytest

from keel.core.context import Json
from keel.routing.tiering import checks
from keel.routing.tiering.checks import escalation_reason
from keel.routing.tiering.config import EscalationConfig

REQUEST: Json = {"model": "support", "messages": [{"role": "user", "content": "Where is my order?"}]}
ALL_ON = EscalationConfig()
ALL_OFF = EscalationConfig(
    on_refusal=False, on_truncation=False, on_invalid_json=False, on_invalid_tool_arguments=False, on_empty=False
)
SCHEMA = {
    "type": "object",
    "properties": {
        "status": {"enum": ["shipped", "pending"]},
        "items": {"type": "array", "items": {"type": "integer"}},
    },
    "required": ["status"],
    "additionalProperties": False,
}


def choice(content: Any = "It ships tomorrow.", finish: str = "stop", **message: Any) -> Json:
    return {"index": 0, "message": {"role": "assistant", "content": content, **message}, "finish_reason": finish}


def answer(*choices: Json, **extra: Any) -> Json:
    return {"id": "chatcmpl-1", "object": "chat.completion", "choices": list(choices or [choice()]), **extra}


def call(arguments: Any) -> Json:
    return {"id": "call_1", "type": "function", "function": {"name": "lookup_order", "arguments": arguments}}


def with_format(response_format: Json) -> Json:
    return {**REQUEST, "response_format": response_format}


def schema_format(schema: Json) -> Json:
    return with_format({"type": "json_schema", "json_schema": {"name": "order", "schema": schema}})


def test_good_answer_passes() -> None:
    assert escalation_reason(REQUEST, answer(), ALL_ON) is None


@pytest.mark.parametrize(
    ("request_body", "bad", "reason"),
    [
        (REQUEST, answer(choice(None)), "empty"),
        (REQUEST, answer(choice("  \n")), "empty"),
        (REQUEST, answer(choice([])), "empty"),
        (REQUEST, {"choices": []}, "empty"),
        (REQUEST, answer(choice("It ships tom", finish="length")), "truncated"),
        (REQUEST, answer(choice("I'm sorry, but I can't help with that.")), "refusal"),
        (REQUEST, answer(choice(None, refusal="I can't assist with that.")), "refusal"),
        (with_format({"type": "json_object"}), answer(choice('{"status": "shipped"')), "invalid_json"),
        (with_format({"type": "json_object"}), answer(choice("Sure! {}")), "invalid_json"),
        (schema_format(SCHEMA), answer(choice("status: shipped")), "invalid_json"),
        (REQUEST, answer(choice(None, tool_calls=[call('{"order": 12')])), "invalid_tool_arguments"),
        (REQUEST, answer(choice(None, tool_calls=[call("[12]")])), "invalid_tool_arguments"),
        (REQUEST, answer(choice(None, tool_calls=[call({"order": 12})])), "invalid_tool_arguments"),
        (REQUEST, answer(choice(None, function_call={"name": "f", "arguments": "{oops"})), "invalid_tool_arguments"),
    ],
)
def test_each_check_fires_and_obeys_its_flag(request_body: Json, bad: Json, reason: str) -> None:
    assert escalation_reason(request_body, bad, ALL_ON) == reason
    assert escalation_reason(request_body, bad, ALL_OFF) is None


@pytest.mark.parametrize(
    ("request_body", "good"),
    [
        (with_format({"type": "json_object"}), answer(choice('{"status": "shipped"}'))),
        (with_format({"type": "text"}), answer(choice("plain text is fine"))),
        (schema_format(SCHEMA), answer(choice('{"status": "pending", "items": [1, 2]}'))),
        (REQUEST, answer(choice(None, tool_calls=[call('{"order": 12}')]))),
        (REQUEST, answer(choice(None, function_call={"name": "f", "arguments": "{}"}))),
        (with_format({"type": "json_object"}), answer(choice(None, tool_calls=[call("{}")]))),
        (REQUEST, answer(choice("You cannot return opened software, but you can exchange it."))),
    ],
)
def test_good_answers_pass(request_body: Json, good: Json) -> None:
    assert escalation_reason(request_body, good, ALL_ON) is None


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"items": [1]}', "schema: $: 'status' is a required property"),
        ('{"status": "lost"}', "schema: $.status: 'lost' is not one of ['shipped', 'pending']"),
        ('{"status": "shipped", "items": [1, "two"]}', "schema: $.items[1]: 'two' is not of type 'integer'"),
    ],
)
def test_schema_reason_names_the_path_and_problem(content: str, reason: str) -> None:
    assert escalation_reason(schema_format(SCHEMA), answer(choice(content)), ALL_ON) == reason
    only_json = EscalationConfig(on_invalid_json=False)
    assert escalation_reason(schema_format(SCHEMA), answer(choice(content)), only_json) is None


def test_schema_reason_is_bounded() -> None:
    long_value = "x" * 1000
    reason = escalation_reason(schema_format(SCHEMA), answer(choice(f'{{"status": "{long_value}"}}')), ALL_ON)
    assert reason is not None
    assert reason.startswith("schema: $.status: ")
    assert len(reason) <= 160


def test_invalid_schema_only_requires_json() -> None:
    broken = schema_format({"type": "no-such-type"})
    assert escalation_reason(broken, answer(choice('{"a": 1}')), ALL_ON) is None
    assert escalation_reason(broken, answer(choice("not json")), ALL_ON) == "invalid_json"


def test_schema_keys_in_any_order_share_one_validator() -> None:
    reordered = dict(reversed(list(SCHEMA.items())))
    content = '{"status": "lost"}'
    first = escalation_reason(schema_format(SCHEMA), answer(choice(content)), ALL_ON)
    cached = checks._validator.cache_info()
    assert escalation_reason(schema_format(reordered), answer(choice(content)), ALL_ON) == first
    after = checks._validator.cache_info()
    assert (after.hits, after.currsize) == (cached.hits + 1, cached.currsize)


def test_every_choice_is_checked() -> None:
    good, bad = choice("Tomorrow."), choice("I cannot help with that.")
    assert escalation_reason(REQUEST, answer(good, good), ALL_ON) is None
    assert escalation_reason(REQUEST, answer(good, bad), ALL_ON) == "refusal"
    assert escalation_reason(REQUEST, answer(bad, good), ALL_ON) == "refusal"


def test_refusal_is_reported_before_emptiness_and_truncation_before_json() -> None:
    assert escalation_reason(REQUEST, answer(choice(None, refusal="No.")), ALL_ON) == "refusal"
    cut = answer(choice('{"status": "shi', finish="length"))
    assert escalation_reason(with_format({"type": "json_object"}), cut, ALL_ON) == "truncated"


def test_faq_confidence_floor() -> None:
    floor = EscalationConfig(min_faq_confidence=0.6)
    assert escalation_reason(REQUEST, answer(), floor, faq_confidence=0.42) == "faq_confidence 0.42 < 0.6"
    assert escalation_reason(REQUEST, answer(), floor, faq_confidence=0.6) is None
    assert escalation_reason(REQUEST, answer(), floor) is None
    assert escalation_reason(REQUEST, answer(), ALL_ON, faq_confidence=0.01) is None
