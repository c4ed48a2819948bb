"""Features read from chat requests and answers: sizes, language, refusal, structured fields."""

from __future__ import annotations

from typing import Any

import pytest

from keel.monitor.drift.features import MAX_FIELDS, extract_features, structured_fields
from keel.monitor.drift.text_signals import guess_language, is_refusal


def answer(content: str | None, finish_reason: str = "stop", **message: Any) -> dict[str, Any]:
    return {
        "choices": [
            {
                "index": 0,
                "finish_reason": finish_reason,
                "message": {"role": "assistant", "content": content, **message},
            }
        ]
    }


SYSTEM = "You are a support agent."
FIRST = "Where is my parcel? It has been two weeks."


def test_request_and_answer_features() -> None:
    messages = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": FIRST},
        {"role": "assistant", "content": "Let me check."},
        {"role": "user", "content": [{"type": "text", "text": "Order 1234, please hurry."}]},
    ]
    features = extract_features({"model": "m", "messages": messages}, answer("It left the warehouse on Monday."))
    assert features == {
        "prompt_chars": float(sum(map(len, [SYSTEM, FIRST, "Let me check.", "Order 1234, please hurry."]))),
        "prompt_tokens_est": 26.0,  # 103 characters / 4
        "turns": 2.0,
        "language": "other",  # "Order 1234, please hurry." has one English stopword: too little to call
        "answer_chars": 32.0,
        "finish_reason": "stop",
        "tool_use": "false",
        "refusal": "false",
    }


def test_prompt_tokens_come_from_usage_when_reported() -> None:
    request = {"messages": [{"role": "user", "content": "x" * 400}]}
    assert extract_features(request, None)["prompt_tokens_est"] == 100.0
    reported = {**answer("ok"), "usage": {"prompt_tokens": 87, "completion_tokens": 1}}
    assert extract_features(request, reported)["prompt_tokens_est"] == 87.0


def test_without_an_answer_only_request_features() -> None:
    features = extract_features({"messages": [{"role": "user", "content": "What is the status of my order?"}]}, None)
    assert set(features) == {"prompt_chars", "prompt_tokens_est", "turns", "language"}
    assert features["language"] == "en"


def test_tool_calls_and_refusals() -> None:
    request = {"messages": [{"role": "user", "content": "hi"}]}
    called = answer(
        None, "tool_calls", tool_calls=[{"id": "1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    )
    assert extract_features(request, called)["tool_use"] == "true"
    assert extract_features(request, called)["finish_reason"] == "tool_calls"
    assert extract_features(request, answer("I'm sorry, but I can't help with that."))["refusal"] == "true"
    assert extract_features(request, answer(None, refusal="No."))["refusal"] == "true"
    assert extract_features(request, {"choices": []})["finish_reason"] == "none"


@pytest.mark.parametrize(
    ("text", "refusal"),
    [
        ("I\u2019m sorry, but I cannot assist with that request.", True),  # a typographic apostrophe
        ("Sorry, I can't do that.", True),
        ("I cannot help with creating malware.", True),
        ("As an AI language model, I don't have opinions.", True),
        ("Unfortunately, I am unable to share that.", True),
        ("I'm sorry to hear your parcel is late! Here is what I found.", False),
        ("I am so sorry, I cannot share that.", True),
        ("Sure! Here is the summary.", False),
        ("The answer is: I cannot be sure without the invoice, but it looks right.", False),
        ("", False),
    ],
)
def test_refusal_openings(text: str, refusal: bool) -> None:
    assert is_refusal(text) is refusal


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Can you tell me how to reset my password for the app?", "en"),
        ("Wie kann ich mein Passwort für die App zurücksetzen? Bitte helfen Sie mir.", "de"),
        ("Bonjour, comment est-ce que je peux changer mon mot de passe dans l'application ?", "fr"),
        ("Hola, ¿cómo puedo cambiar mi contraseña en la aplicación? Gracias.", "es"),
        ("\u5982\u4f55\u91cd\u7f6e\u6211\u7684\u5bc6\u7801", "other"),  # Chinese
        ("Как сбросить пароль в приложении?", "other"),
        ("12345 !!!", "other"),
        ("ok", "other"),
    ],
)
def test_language_guess(text: str, language: str) -> None:
    assert guess_language(text) == language


def test_structured_input_and_output_fields() -> None:
    prompt = (
        '{"order_id": 981, "express": true, "customer": {"tier": "gold", "age": 41, "tags": ["a"]}, '
        + '"items": [1, 2], "note": "'
        + "x" * 60
        + '"}'
    )
    reply = '```json\n{"category": "billing", "confidence": 0.82, "escalate": false, "extra": null}\n```'
    features = extract_features({"messages": [{"role": "user", "content": prompt}]}, answer(reply))
    assert {k: v for k, v in features.items() if k.startswith(("in.", "out."))} == {
        "in.order_id": 981.0,
        "in.express": "true",
        "in.customer.tier": "gold",
        "in.customer.age": 41.0,
        "out.category": "billing",
        "out.confidence": 0.82,
        "out.escalate": "false",
    }


def test_structured_fields_are_bounded_and_tolerant() -> None:
    wide = "{" + ", ".join(f'"f{i}": {i}' for i in range(100)) + "}"
    assert len(structured_fields(wide, "in")) == MAX_FIELDS
    assert structured_fields("not json", "in") == {}
    assert structured_fields("{broken", "in") == {}
    assert structured_fields("[1, 2, 3]", "out") == {}
    assert structured_fields('{"x": 1e999}', "in") == {}  # infinity is not a usable number
