"""The features drift monitoring watches, read from a chat.completions request and its answer.

Numeric features are floats, categorical ones strings:

=====================  ===========  ==========================================================
feature                kind         meaning
=====================  ===========  ==========================================================
``prompt_chars``       numeric      characters of text in all messages
``prompt_tokens_est``  numeric      the answer's ``usage.prompt_tokens``, else characters / 4
``turns``              numeric      user messages in the conversation
``language``           categorical  en, de, fr, es or other, guessed from the last user message
``answer_chars``       numeric      characters of the first choice's text
``finish_reason``      categorical  the first choice's finish reason
``tool_use``           categorical  "true" when the answer called a tool
``refusal``            categorical  "true" when the answer refuses (its ``refusal`` field or its opening)
``in.<field>``         either       top-level fields of a JSON object sent as the last user message
``out.<field>``        either       top-level fields of a JSON object answered
=====================  ===========  ==========================================================

The answer's features are absent when there is no answer. Prompt tokens come from the upstream's usage
when it reports any (exact and free) and are otherwise characters / 4: ``keel.cost.estimate`` is closer
but costs about 100 µs a prompt, several times the rest of the extraction.

For JSON objects, numbers become numeric features, booleans and strings of at most 40 characters
categorical ones, and objects are flattened one level (``in.customer.tier``); longer strings, arrays and
deeper objects are skipped, and at most 32 fields per side are read, so a large document costs a bounded
amount. An answer wrapped in a Markdown code fence is unwrapped first.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import orjson

from keel.core.chat_input import text_of
from keel.monitor.drift.text_signals import guess_language, is_refusal

MAX_FIELDS = 32
MAX_CATEGORY_CHARS = 40
MAX_JSON_CHARS = 100_000

Features = dict[str, float | str]

_FENCE = re.compile(r"^\s*```[a-zA-Z]*\s*\n(.*)\n\s*```\s*$", re.DOTALL)


def _field_value(value: Any) -> float | str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, str) and len(value) <= MAX_CATEGORY_CHARS:
        return value
    return None


def _json_object(text: str) -> dict[str, Any] | None:
    fenced = _FENCE.match(text)
    body = (fenced.group(1) if fenced else text).strip()
    if not body.startswith("{") or len(body) > MAX_JSON_CHARS:
        return None
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None


def structured_fields(text: str, prefix: str) -> Features:
    """Numeric and categorical fields of a JSON object in ``text``, named ``prefix.field`` (see above)."""
    document = _json_object(text)
    fields: Features = {}
    if document is None:
        return fields
    for key, value in document.items():
        pairs = value.items() if isinstance(value, dict) else [(None, value)]
        for sub_key, sub_value in pairs:
            if len(fields) >= MAX_FIELDS:
                return fields
            read = _field_value(sub_value)
            if read is not None:
                fields[f"{prefix}.{key}" if sub_key is None else f"{prefix}.{key}.{sub_key}"] = read
    return fields


def _prompt_tokens(response: Mapping[str, Any] | None, prompt_chars: int) -> float:
    usage = response.get("usage") if response is not None else None
    reported = usage.get("prompt_tokens") if isinstance(usage, Mapping) else None
    if isinstance(reported, int) and not isinstance(reported, bool):
        return float(reported)
    return float(round(prompt_chars / 4))


def _first_choice(response: Mapping[str, Any]) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    choices = response.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], Mapping) else {}
    message = choice.get("message")
    return choice, message if isinstance(message, Mapping) else {}


def extract_features(request: Mapping[str, Any], response: Mapping[str, Any] | None) -> Features:
    """The request's and (when given) the answer's features, as in the module docstring."""
    raw_messages = request.get("messages")
    messages = [m for m in raw_messages if isinstance(m, Mapping)] if isinstance(raw_messages, list) else []
    texts = [text_of(message.get("content")) for message in messages]
    user_texts = [text for message, text in zip(messages, texts, strict=True) if message.get("role") == "user"]
    last_user = user_texts[-1] if user_texts else ""
    prompt_chars = sum(len(text) for text in texts)
    features: Features = {
        "prompt_chars": float(prompt_chars),
        "prompt_tokens_est": _prompt_tokens(response, prompt_chars),
        "turns": float(len(user_texts)),
        "language": guess_language(last_user),
    }
    features.update(structured_fields(last_user, "in"))
    if response is None:
        return features
    choice, message = _first_choice(response)
    answer = text_of(message.get("content"))
    features["answer_chars"] = float(len(answer))
    features["finish_reason"] = str(choice.get("finish_reason") or "none")
    features["tool_use"] = "true" if message.get("tool_calls") else "false"
    features["refusal"] = "true" if message.get("refusal") or is_refusal(answer) else "false"
    features.update(structured_fields(answer, "out"))
    return features
