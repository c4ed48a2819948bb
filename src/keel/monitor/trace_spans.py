"""What a request record says as spans: names, attributes and the timing of its attempts.

Attribute names follow the OpenTelemetry GenAI semantic conventions (``gen_ai.*``), with the HTTP and
error conventions where they apply; what only Keel knows goes under ``keel.*``. Pure functions of the
record, so the tracer that turns them into spans stays small.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

from keel.store.records import AttemptRecord, RequestRecord

if TYPE_CHECKING:
    from opentelemetry.util.types import AttributeValue

    from keel.config.runtime import Deployment

Attributes = dict[str, "AttributeValue"]

OPERATIONS = {"chat.completions": "chat", "embeddings": "embeddings"}

# Keel's vendor names where the conventions spell them differently; the others are used as they are.
PROVIDER_NAMES = {"azure": "azure.ai.openai", "mistral": "mistral_ai", "xai": "x_ai"}
# The same for ``gen_ai.system``, the attribute the conventions used before ``gen_ai.provider.name``.
SYSTEM_NAMES = {"azure": "az.ai.openai", "mistral": "mistral_ai"}

_DEFAULT_PORTS = {"http": 80, "https": 443}


def operation_name(record: RequestRecord) -> str:
    return OPERATIONS.get(record.endpoint, record.endpoint)


def request_span_name(record: RequestRecord) -> str:
    """``chat gpt-4o-mini``: the operation and the model that answered (or else the route asked for)."""
    target = record.model or record.route
    return f"{operation_name(record)} {target}" if target else operation_name(record)


def attempt_span_name(record: RequestRecord, attempt: AttemptRecord) -> str:
    return f"{operation_name(record)} {attempt.deployment}"


def error_type(status: int, error_class: str | None) -> str | None:
    """``error.type``: Keel's error class, or the status code when the failure has no class."""
    if error_class is not None:
        return error_class
    return str(status) if status >= 400 else None


def request_attributes(record: RequestRecord) -> Attributes:
    """Attributes of the SERVER span: the request as its client saw it."""
    attrs: Attributes = {
        "gen_ai.operation.name": operation_name(record),
        "gen_ai.request.stream": record.stream,
        "http.response.status_code": record.status,
        "keel.request_id": record.request_id,
        "keel.config_hash": record.config_hash,
        "keel.overhead_ms": round(record.overhead_ms, 3),
    }
    if record.provider:
        attrs.update(provider_attributes(record.provider))
    if record.stream and record.ttft_ms is not None:
        attrs["gen_ai.response.time_to_first_chunk"] = record.ttft_ms / 1000
    if record.ttft_ms is not None:
        attrs["keel.ttft_ms"] = round(record.ttft_ms, 3)
    if record.guard_verdicts:
        attrs["keel.guard.verdicts"] = guard_summary(record.guard_verdicts)
    finish_reasons = _finish_reasons(record.response_body)
    if finish_reasons:
        attrs["gen_ai.response.finish_reasons"] = finish_reasons
    kind = error_type(record.status, record.error_class)
    if kind is not None:
        attrs["error.type"] = kind
    _put_present(
        attrs,
        {
            "gen_ai.request.model": record.route,
            "gen_ai.response.model": record.model,
            "gen_ai.usage.input_tokens": record.prompt_tokens,
            "gen_ai.usage.output_tokens": record.completion_tokens,
            "keel.route": record.route,
            "keel.deployment": record.deployment,
            "keel.cache": record.cache,
            "keel.cost_usd": record.cost_usd,
            "keel.tier": record.tier,
            "keel.escalation": record.escalation,
            "keel.rollout.id": record.rollout_id,
            "keel.rollout.side": record.rollout_side,
            "keel.safe_mode": record.safe_mode,
            "keel.error_code": record.error_code,
            "keel.key_id": record.key_id,
            "keel.team": record.team,
            "keel.feature": record.feature,
        },
    )
    return attrs


def attempt_attributes(record: RequestRecord, attempt: AttemptRecord, deployment: Deployment | None) -> Attributes:
    """Attributes of one attempt's CLIENT span: one call from Keel to one deployment."""
    attrs: Attributes = {
        "gen_ai.operation.name": operation_name(record),
        **provider_attributes(attempt.provider),
        "keel.deployment": attempt.deployment,
        "keel.attempt.kind": attempt.kind,
        "keel.request_id": record.request_id,
    }
    if attempt.status == 0:  # abandoned before its answer, e.g. a hedge that lost its race: not a failure
        attrs["keel.attempt.cancelled"] = True
    else:
        attrs["http.response.status_code"] = attempt.status
        kind = error_type(attempt.status, attempt.error_class)
        if kind is not None:
            attrs["error.type"] = kind
    if deployment is not None:
        attrs["gen_ai.request.model"] = deployment.model
        if deployment.target is not None:
            attrs.update(server_attributes(deployment.target.api_base))
    if attempt.status == 200 and attempt.deployment == record.deployment and record.model:
        attrs["gen_ai.response.model"] = record.model
    return attrs


def attempt_failed(attempt: AttemptRecord) -> bool:
    """A client span fails on any error status (HTTP conventions); an abandoned call (status 0) did not."""
    return attempt.status >= 400


def provider_attributes(provider: str) -> Attributes:
    return {
        "gen_ai.provider.name": PROVIDER_NAMES.get(provider, provider),
        "gen_ai.system": SYSTEM_NAMES.get(provider, provider),
    }


def server_attributes(api_base: str) -> Attributes:
    """``server.address`` and ``server.port`` of an upstream's base URL (none for an unparsable one)."""
    try:
        parts = urlsplit(api_base)
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return {}
    if not parts.hostname:
        return {}
    attrs: Attributes = {"server.address": parts.hostname}
    if port is not None:
        attrs["server.port"] = port
    return attrs


def guard_summary(verdicts: list[dict[str, Any]]) -> str:
    """``pii=redact;injection=allow``: each guard's action, in the order the guards ran."""
    return ";".join(f"{v.get('guard', '?')}={v.get('action', '?')}" for v in verdicts)


def attempt_windows(record: RequestRecord) -> list[tuple[int, int]]:
    """Start and end (epoch ns) of each attempt, laid out inside the request's span.

    Records keep each attempt's duration but not its start, so the layout is approximate: Keel's own
    overhead is put first, then the attempts follow one another in the order they were booked.
    Nothing is drawn past the request's end.
    """
    start = to_ns(record.ts)
    end = start + ms_to_ns(record.latency_ms)
    cursor = min(start + ms_to_ns(record.overhead_ms), end)
    windows = []
    for attempt in record.attempts:
        finish = min(cursor + ms_to_ns(attempt.latency_ms), end)
        windows.append((cursor, finish))
        cursor = finish
    return windows


def to_ns(epoch_s: float) -> int:
    return int(epoch_s * 1_000_000_000)


def ms_to_ns(ms: float) -> int:
    return max(0, int(ms * 1_000_000))


def content_attributes(record: RequestRecord) -> Attributes:
    """The conversation in the conventions' JSON shape; only asked for when content capture is on.

    The record carries bodies only for routes that log them, so only those routes' spans get content.
    """
    if record.endpoint != "chat.completions":
        return {}
    attrs: Attributes = {}
    messages = (record.request_body or {}).get("messages")
    if isinstance(messages, list) and messages:
        attrs["gen_ai.input.messages"] = _json([_input_message(m) for m in messages if isinstance(m, Mapping)])
    choices = (record.response_body or {}).get("choices")
    if isinstance(choices, list) and choices:
        attrs["gen_ai.output.messages"] = _json([_output_message(c) for c in choices if isinstance(c, Mapping)])
    return attrs


def _input_message(message: Mapping[str, Any]) -> dict[str, Any]:
    role = message.get("role", "user")
    if role == "tool":
        parts = [{"type": "tool_call_response", "id": message.get("tool_call_id"), "response": message.get("content")}]
    else:
        parts = [*_content_parts(message.get("content")), *_tool_call_parts(message.get("tool_calls"))]
    return {"role": role, "parts": parts}


def _output_message(choice: Mapping[str, Any]) -> dict[str, Any]:
    message = choice.get("message") or {}
    parts = [*_content_parts(message.get("content")), *_tool_call_parts(message.get("tool_calls"))]
    return {"role": message.get("role", "assistant"), "parts": parts, "finish_reason": choice.get("finish_reason")}


def _content_parts(content: object) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    if not isinstance(content, list):
        return []
    parts: list[dict[str, Any]] = []
    for part in content:
        if not isinstance(part, Mapping):
            continue
        if part.get("type") == "text":
            parts.append({"type": "text", "content": part.get("text")})
        else:  # images, audio, files: named by type only, their data stays out of traces
            parts.append({"type": part.get("type")})
    return parts


def _tool_call_parts(calls: object) -> list[dict[str, Any]]:
    if not isinstance(calls, list):
        return []
    parts = []
    for call in calls:
        if isinstance(call, Mapping):
            function = call.get("function") or {}
            parts.append(
                {
                    "type": "tool_call",
                    "id": call.get("id"),
                    "name": function.get("name"),
                    "arguments": function.get("arguments"),
                }
            )
    return parts


def _finish_reasons(body: Mapping[str, Any] | None) -> list[str]:
    choices = (body or {}).get("choices")
    if not isinstance(choices, list):
        return []
    return [c["finish_reason"] for c in choices if isinstance(c, Mapping) and isinstance(c.get("finish_reason"), str)]


def _put_present(attrs: Attributes, values: Mapping[str, str | int | float | None]) -> None:
    attrs.update({key: value for key, value in values.items() if value is not None})


def _json(value: object) -> str:
    return orjson.dumps(value).decode()
