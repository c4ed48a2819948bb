"""The OpenAI wire codec: used by every OpenAI-compatible vendor (OpenAI, Azure, vLLM, Groq, …).

Requests pass through with the model name swapped for the upstream's; responses and stream chunks
are checked for shape and passed back as they came.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from keel.core.errors import (
    ContentPolicyViolation,
    ContextWindowExceeded,
    InvalidRequest,
    KeelError,
    PayloadTooLarge,
    RateLimited,
    UpstreamBadResponse,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from keel.providers.base import HttpCall, Json, SseEvent, Target

_DONE = b"[DONE]"


def _headers(target: Target) -> dict[str, str]:
    headers = {"content-type": "application/json", **target.headers}
    if target.api_key and target.auth_header:
        if target.auth_header == "authorization":
            headers["authorization"] = f"Bearer {target.api_key}"
        else:
            headers[target.auth_header] = target.api_key
    return headers


def _url(target: Target, operation: str) -> str:
    if target.url_style == "azure":
        version = f"?api-version={target.api_version}" if target.api_version else ""
        return f"{target.api_base}/openai/deployments/{target.model}/{operation}{version}"
    return f"{target.api_base}/{operation}"


def _loads_object(payload: bytes, what: str) -> Json:
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise UpstreamBadResponse(f"upstream returned {what} that is not JSON") from None
    if not isinstance(data, dict):
        raise UpstreamBadResponse(f"upstream returned {what} that is not a JSON object")
    return data


class OpenAIStreamDecoder:
    def __init__(self) -> None:
        self._done = False

    @property
    def done(self) -> bool:
        return self._done

    def feed(self, event: SseEvent) -> list[Json]:
        data = event.data
        if data == _DONE:
            self._done = True
            return []
        chunk = _loads_object(data, "a stream chunk")
        if "error" in chunk and "choices" not in chunk:
            raise OpenAICodec.error_from_body(500, {}, chunk)
        return [chunk]


class OpenAICodec:
    name = "openai"

    def chat_request(self, body: Json, target: Target, *, stream: bool) -> HttpCall:
        upstream = {**body, "model": target.model, "stream": stream}
        return HttpCall("POST", _url(target, "chat/completions"), _headers(target), orjson.dumps(upstream))

    def chat_response(self, payload: bytes, target: Target) -> Json:
        data = _loads_object(payload, "a response")
        if not isinstance(data.get("choices"), list):
            raise UpstreamBadResponse("upstream response has no 'choices' list")
        return data

    def stream_decoder(self, body: Json, target: Target) -> OpenAIStreamDecoder:
        return OpenAIStreamDecoder()

    def embeddings_request(self, body: Json, target: Target) -> HttpCall:
        upstream = {**body, "model": target.model}
        return HttpCall("POST", _url(target, "embeddings"), _headers(target), orjson.dumps(upstream))

    def embeddings_response(self, payload: bytes, target: Target) -> Json:
        data = _loads_object(payload, "a response")
        if not isinstance(data.get("data"), list):
            raise UpstreamBadResponse("upstream embeddings response has no 'data' list")
        return data

    def classify_error(self, status: int, headers: Mapping[str, str], payload: bytes) -> KeelError:
        try:
            body = orjson.loads(payload) if payload else {}
        except orjson.JSONDecodeError:
            body = {}
        return self.error_from_body(status, headers, body if isinstance(body, dict) else {})

    @staticmethod
    def error_from_body(status: int, headers: Mapping[str, str], body: Json) -> KeelError:
        err: Any = body.get("error")
        if not isinstance(err, dict):
            err = {"message": err} if isinstance(err, str) else {}
        code = str(err.get("code") or "")
        message = f"upstream: {err.get('message') or f'HTTP {status}'}"
        param = err.get("param") if isinstance(err.get("param"), str) else None
        if code == "context_length_exceeded":
            return ContextWindowExceeded(message, param=param)
        if code in ("content_policy_violation", "content_filter"):
            return ContentPolicyViolation(message, param=param)
        if status == 429:
            return RateLimited(message, retry_after_s=_retry_after(headers), code=code or None)
        if status in (400, 422):
            return InvalidRequest(message, param=param, code=code or None)
        if status == 413:
            return PayloadTooLarge(message)
        if status == 408:
            return UpstreamTimeout(message)
        if status in (401, 403, 404):
            return UpstreamRejected(f"{message} (HTTP {status}; check the deployment's model and key)")
        if status >= 500 or status == 409:
            return UpstreamUnavailable(message)
        return UpstreamRejected(f"{message} (HTTP {status})")


def _retry_after(headers: Mapping[str, str]) -> float | None:
    for name in ("retry-after-ms", "retry-after"):
        value = headers.get(name) or headers.get(name.title())
        if value:
            try:
                seconds = float(value)
            except ValueError:
                continue
            return seconds / 1000 if name.endswith("-ms") else seconds
    return None
