"""Whether a lower tier's answer should be retried one tier up, and why.

The checks read a non-streamed ``chat.completion`` body (and the request that asked for it). They
look for answers a stronger model would likely do better on: nothing said, cut off at the token
limit, a refusal, JSON that was asked for but does not parse or does not fit the requested schema,
tool calls whose arguments are not a JSON object, and FAQ matches below a confidence floor. With
``n > 1`` every choice is checked and one failing choice is enough. Each reason is a short, stable
string ("empty", "truncated", "schema: $.items[0]: ...") for logs and metrics.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import orjson
from jsonschema import validators
from jsonschema.exceptions import SchemaError, best_match
from jsonschema.protocols import Validator

from keel.core.chat_input import text_of
from keel.core.context import Json
from keel.routing.tiering.config import EscalationConfig
from keel.routing.tiering.refusal import is_refusal

_VALIDATOR_CACHE = 256
"""Distinct response schemas whose compiled validators are kept; a route usually has a handful."""
_MAX_MESSAGE = 160
"""Schema error messages quote the offending value: keep reasons short for logs and headers."""
_NOT_JSON = object()


def escalation_reason(
    request: Json, answer: Json, config: EscalationConfig, faq_confidence: float | None = None
) -> str | None:
    """Why ``answer`` should go one tier up, or ``None`` when it is fine.

    ``faq_confidence`` is the match score an FAQ deployment reports (``answer["keel"]["confidence"]``);
    it is checked against ``config.min_faq_confidence`` when both are given.
    """
    choices = answer.get("choices")
    if not isinstance(choices, list) or not choices:
        if config.on_empty:
            return "empty"
    else:
        response_format = request.get("response_format")
        for choice in choices:
            reason = _choice_reason(choice if isinstance(choice, dict) else {}, response_format, config)
            if reason is not None:
                return reason
    floor = config.min_faq_confidence
    if floor is not None and faq_confidence is not None and faq_confidence < floor:
        return f"faq_confidence {faq_confidence:.4g} < {floor:.4g}"
    return None


def _choice_reason(choice: Json, response_format: Any, config: EscalationConfig) -> str | None:
    message = choice.get("message")
    if not isinstance(message, dict):
        message = {}
    content = text_of(message.get("content"))
    calls = _tool_calls(message)
    # Most specific first: a refusal or a cut-off answer often has no content either.
    if config.on_refusal and (message.get("refusal") or is_refusal(content)):
        return "refusal"
    if config.on_truncation and choice.get("finish_reason") == "length":
        return "truncated"
    if config.on_empty and not content.strip() and not calls:
        return "empty"
    if config.on_invalid_json and not calls and isinstance(response_format, Mapping):
        reason = _format_reason(content, response_format)
        if reason is not None:
            return reason
    if config.on_invalid_tool_arguments and any(not _is_json_object(call.get("arguments")) for call in calls):
        return "invalid_tool_arguments"
    return None


def _tool_calls(message: Json) -> list[Json]:
    """The functions an answer calls: ``tool_calls`` entries and the legacy ``function_call``."""
    calls: list[Json] = []
    tool_calls = message.get("tool_calls")
    if isinstance(tool_calls, list):
        for call in tool_calls:
            function = call.get("function") if isinstance(call, dict) else None
            calls.append(function if isinstance(function, dict) else {})
    if isinstance(message.get("function_call"), dict):
        calls.append(message["function_call"])
    return calls


def _is_json_object(arguments: Any) -> bool:
    return isinstance(arguments, str) and isinstance(_parse(arguments), dict)


def _parse(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return _NOT_JSON


def _format_reason(content: str, response_format: Mapping[str, Any]) -> str | None:
    kind = response_format.get("type")
    if kind not in ("json_object", "json_schema"):
        return None
    document = _parse(content)
    if document is _NOT_JSON:
        return "invalid_json"
    spec = response_format.get("json_schema")
    schema = spec.get("schema") if kind == "json_schema" and isinstance(spec, Mapping) else None
    if not isinstance(schema, dict):
        return None
    validator = _validator(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS))
    if validator is None:
        return None
    error = best_match(validator.iter_errors(document))
    if error is None:
        return None
    return f"schema: {error.json_path}: {error.message}"[:_MAX_MESSAGE]


@functools.lru_cache(maxsize=_VALIDATOR_CACHE)
def _validator(canonical_schema: bytes) -> Validator | None:
    """A compiled validator for a schema in canonical JSON; ``None`` for a schema that is itself invalid.

    An invalid schema is the client's mistake, which a stronger tier cannot fix: the answer is then
    only required to be JSON.
    """
    schema = orjson.loads(canonical_schema)
    cls = validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except SchemaError:
        return None
    validator: Validator = cls(schema)
    return validator
