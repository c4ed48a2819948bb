from __future__ import annotations

from typing import Any

import orjson

from keel.guards.validators import reask_messages

SCHEMA = {"type": "object", "required": ["answer"]}


def test_reask_replays_the_conversation_then_the_bad_answer_then_the_problems() -> None:
    original: list[dict[str, Any]] = [
        {"role": "system", "content": "Answer in JSON."},
        {"role": "user", "content": "What is 2 + 2?"},
    ]
    snapshot = [dict(m) for m in original]
    problems = ["$: 'answer' is a required property", "$.result: 4 is not of type 'string'"]
    messages = reask_messages(original, '{"result": 4}', problems, SCHEMA)

    assert original == snapshot  # the request's own list is left alone
    assert messages[:2] == original and messages[0] is not original[0]
    assert messages[2] == {"role": "assistant", "content": '{"result": 4}'}
    assert messages[3]["role"] == "user" and len(messages) == 4
    text = messages[3]["content"]
    for problem in problems:
        assert f"- {problem}" in text
    assert orjson.dumps(SCHEMA).decode() in text
    assert "corrected JSON only" in text


def test_without_a_schema_the_request_still_asks_for_json_only() -> None:
    messages = reask_messages([{"role": "user", "content": "hi"}], "hello", ["the answer is not valid JSON"])
    text = messages[-1]["content"]
    assert "JSON Schema" not in text
    assert "- the answer is not valid JSON" in text and "corrected JSON only" in text
