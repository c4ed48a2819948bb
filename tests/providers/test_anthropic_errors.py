"""The anthropic codec's error classification: every Anthropic failure lands on one Keel error class."""

from __future__ import annotations

import time
from email.utils import formatdate

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.core.errors import (
    ContextWindowExceeded,
    InvalidRequest,
    KeelError,
    PayloadTooLarge,
    RateLimited,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from keel.providers.anthropic import AnthropicCodec
from tests.fakes.anthropic_upstream import error_body

CODEC = AnthropicCodec()


def classify(status: int, error_type: str, message: str, headers: dict[str, str] | None = None) -> KeelError:
    return CODEC.classify_error(status, headers or {}, orjson.dumps(error_body(error_type, message)))


@pytest.mark.parametrize(
    ("status", "error_type", "message", "expected"),
    [
        (400, "invalid_request_error", "max_tokens: Field required", InvalidRequest),
        (400, "invalid_request_error", "prompt is too long: 208310 tokens > 200000 maximum", ContextWindowExceeded),
        (
            400,
            "invalid_request_error",
            "input length and `max_tokens` exceed context limit: 188240 + 21333 > 200000",
            ContextWindowExceeded,
        ),
        (401, "authentication_error", "invalid x-api-key", UpstreamRejected),
        (402, "billing_error", "credit balance is too low", UpstreamRejected),
        (
            403,
            "permission_error",
            "Your API key does not have permission to use the specified resource.",
            UpstreamRejected,
        ),
        (404, "not_found_error", "model: claude-nope", UpstreamRejected),
        (413, "request_too_large", "Request exceeds the maximum allowed number of bytes.", PayloadTooLarge),
        (429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit", RateLimited),
        (500, "api_error", "Internal server error", UpstreamUnavailable),
        (504, "timeout_error", "Request timed out", UpstreamTimeout),
        (529, "overloaded_error", "Overloaded", UpstreamUnavailable),
    ],
)
def test_each_anthropic_error_type(status: int, error_type: str, message: str, expected: type[KeelError]) -> None:
    error = classify(status, error_type, message)
    assert type(error) is expected
    assert error.message == f"anthropic: {message}"


def test_our_credentials_being_wrong_is_not_the_clients_fault() -> None:
    error = classify(401, "authentication_error", "invalid x-api-key")
    assert error.status == 502
    assert not error.retryable


def test_overload_is_retryable_and_a_bad_request_is_not() -> None:
    assert classify(529, "overloaded_error", "Overloaded").retryable
    assert classify(500, "api_error", "boom").retryable
    assert not classify(400, "invalid_request_error", "bad").retryable
    assert not classify(400, "invalid_request_error", "prompt is too long: 1 > 0").retryable


def test_the_context_message_only_matters_for_invalid_requests() -> None:
    assert type(classify(500, "api_error", "context window service unavailable")) is UpstreamUnavailable


def test_rate_limit_carries_retry_after() -> None:
    error = classify(429, "rate_limit_error", "slow down", {"Retry-After": "17"})
    assert isinstance(error, RateLimited)
    assert error.retry_after_s == 17.0
    assert error.headers["retry-after"] == "17"


def test_retry_after_as_an_http_date() -> None:
    when = formatdate(time.time() + 30, usegmt=True)
    error = classify(429, "rate_limit_error", "slow down", {"retry-after": when})
    assert isinstance(error, RateLimited)
    assert error.retry_after_s is not None
    assert 25 <= error.retry_after_s <= 31


@pytest.mark.parametrize("value", ["soon", "nan", "inf", ""])
def test_unusable_retry_after_is_ignored(value: str) -> None:
    error = classify(429, "rate_limit_error", "slow down", {"retry-after": value})
    assert isinstance(error, RateLimited)
    assert error.retry_after_s is None
    assert "retry-after" not in error.headers


def test_rate_limit_without_the_header() -> None:
    error = classify(429, "rate_limit_error", "slow down")
    assert isinstance(error, RateLimited)
    assert error.retry_after_s is None


@pytest.mark.parametrize(
    ("status", "payload", "expected"),
    [
        (400, b"", InvalidRequest),
        (401, b"<html>Unauthorized</html>", UpstreamRejected),
        (403, b"forbidden", UpstreamRejected),
        (404, b"Not Found", UpstreamRejected),
        (408, b"", UpstreamTimeout),
        (413, b"<html><body>413 Request Entity Too Large</body></html>", PayloadTooLarge),
        (429, b"", RateLimited),
        (500, b"{truncated", UpstreamUnavailable),
        (502, b"<html>Bad Gateway</html>", UpstreamUnavailable),
        (503, b'{"message": "no error object"}', UpstreamUnavailable),
        (504, b"Gateway Timeout", UpstreamTimeout),
        (529, b"", UpstreamUnavailable),
        (302, b"", UpstreamBadResponse),
    ],
)
def test_unparseable_bodies_are_classified_by_status(status: int, payload: bytes, expected: type[KeelError]) -> None:
    error = CODEC.classify_error(status, {}, payload)
    assert type(error) is expected
    assert error.message.startswith(f"anthropic: HTTP {status}")


def test_a_body_snippet_is_kept_short() -> None:
    error = CODEC.classify_error(502, {}, b"<html>" + b"x" * 5000 + b"</html>")
    assert len(error.message) < 260


def test_an_unknown_type_falls_back_to_the_status() -> None:
    assert type(classify(503, "brand_new_error", "whatever")) is UpstreamUnavailable
    assert type(classify(409, "conflict_error", "conflict")) is UpstreamRejected


def test_the_openai_error_shape_keeps_the_upstream_message() -> None:
    error = classify(400, "invalid_request_error", "messages.0.content: Field required")
    assert error.to_openai() == {
        "error": {
            "message": "anthropic: messages.0.content: Field required",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }


@given(st.integers(min_value=400, max_value=599), st.binary(max_size=200))
def test_any_failure_is_classified(status: int, payload: bytes) -> None:
    error = CODEC.classify_error(status, {"retry-after": "x"}, payload)
    assert isinstance(error, KeelError)
    assert error.message.startswith("anthropic: ")
    if status >= 500:
        assert isinstance(error, UpstreamError)
