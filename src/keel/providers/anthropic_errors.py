"""Anthropic failures mapped onto Keel's error tree.

Anthropic reports an error as ``{"type": "error", "error": {"type": ..., "message": ...}}``, both as a
non-2xx HTTP body and as an ``error`` event inside a 200 stream. The error ``type`` is more precise than
the status (a 529 and a 500 are both upstream trouble, a 413 may come from a proxy as HTML), so it
decides first; the status decides when the body is unreadable or the type unknown.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import orjson

from keel.core.errors import (
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

PREFIX = "anthropic: "

# Authentication, permission, billing and not-found failures concern Keel's own account and model
# configuration, not the client's request, hence UpstreamRejected rather than the 401/403/404 classes.
_BY_TYPE: dict[str, type[KeelError]] = {
    "invalid_request_error": InvalidRequest,
    "authentication_error": UpstreamRejected,
    "permission_error": UpstreamRejected,
    "billing_error": UpstreamRejected,
    "not_found_error": UpstreamRejected,
    "request_too_large": PayloadTooLarge,
    "rate_limit_error": RateLimited,
    "timeout_error": UpstreamTimeout,
    "api_error": UpstreamUnavailable,
    "overloaded_error": UpstreamUnavailable,
}

# Anthropic signals an over-long prompt only through the message of an invalid_request_error
# ("prompt is too long: 208310 tokens > 200000 maximum", "... exceed context limit ..."), so this is
# the one decision taken from the text.
_CONTEXT_LENGTH = re.compile(r"prompt is too long|context (?:window|length|limit)", re.IGNORECASE)

_SNIPPET_CHARS = 200


def classify_error(status: int, headers: Mapping[str, str], payload: bytes) -> KeelError:
    """The Keel error for a non-2xx answer from ``POST /v1/messages``."""
    error_type, message = _read_error_body(payload)
    if message is None:
        message = f"HTTP {status}" + (f": {_snippet(payload)}" if payload.strip() else "")
    cls = _BY_TYPE.get(error_type or "") or _by_status(status)
    return _build(cls, message, retry_after_s=retry_after(headers))


def classify_error_object(body: Any) -> KeelError:
    """The Keel error for an error reported inside a 200 answer (an ``error`` stream event)."""
    error_type, message = _error_fields(body)
    if message is None:
        message = "error event without a message"
    # No status to fall back on: an unknown type mid-answer is still an upstream failure worth a retry.
    cls = _BY_TYPE.get(error_type or "", UpstreamUnavailable)
    return _build(cls, message, retry_after_s=None)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from a ``retry-after`` header (delta-seconds or an HTTP date), if present and sane."""
    raw = next((value for key, value in headers.items() if key.lower() == "retry-after"), None)
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(raw).timestamp() - time.time()
        except (TypeError, ValueError, IndexError):
            return None
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _by_status(status: int) -> type[KeelError]:
    if status == 413:
        return PayloadTooLarge
    if status == 429:
        return RateLimited
    if status in (408, 504):
        return UpstreamTimeout
    if status in (400, 422):
        return InvalidRequest
    if 400 <= status < 500:
        return UpstreamRejected
    if status >= 500:
        return UpstreamUnavailable
    # A status outside 4xx/5xx reported as a failure: the upstream is not speaking the protocol.
    return UpstreamBadResponse


def _build(cls: type[KeelError], message: str, *, retry_after_s: float | None) -> KeelError:
    text = PREFIX + message
    if cls is InvalidRequest and _CONTEXT_LENGTH.search(message):
        return ContextWindowExceeded(text)
    if cls is RateLimited:
        return RateLimited(text, retry_after_s=retry_after_s)
    return cls(text)


def _read_error_body(payload: bytes) -> tuple[str | None, str | None]:
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None, None
    return _error_fields(body)


def _error_fields(body: Any) -> tuple[str | None, str | None]:
    """``(type, message)`` of an Anthropic error body; either is None when missing or malformed."""
    if not isinstance(body, dict):
        return None, None
    error = body.get("error")
    if not isinstance(error, dict):
        return None, None
    error_type = error.get("type")
    message = error.get("message")
    return (
        error_type if isinstance(error_type, str) else None,
        message if isinstance(message, str) and message else None,
    )


def _snippet(payload: bytes) -> str:
    text = " ".join(payload.decode("utf-8", errors="replace").split())
    return text if len(text) <= _SNIPPET_CHARS else text[:_SNIPPET_CHARS] + "…"
