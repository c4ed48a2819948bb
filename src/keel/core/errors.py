"""Keel's error tree.

Every failure that can reach a client is a ``KeelError``. Each class fixes the HTTP status, the OpenAI
error ``type``, a default ``code`` and whether a retry against another deployment may help. Foreign
errors (upstream HTTP failures, socket errors, bad JSON) are translated into this tree once, at the
boundary where they are caught: the codec of each wire protocol, the HTTP client, the request parser.

    KeelError
    ├── ClientError                      4xx, never retried
    │   ├── InvalidRequest               400 invalid_request_error
    │   ├── AuthenticationFailed         401 authentication_error (invalid_api_key)
    │   ├── PermissionDenied             403 permission_error
    │   ├── NotFound                     404 invalid_request_error (model_not_found, not_found)
    │   ├── MethodNotAllowed             405
    │   ├── PayloadTooLarge              413
    │   └── ContextWindowExceeded        400 (context_length_exceeded)
    │       ContentPolicyViolation       400 (content_policy_violation)
    ├── RateLimited                      429 rate_limit_error, retryable, carries Retry-After
    ├── UpstreamError                    5xx from a provider; retryable and fails over
    │   ├── UpstreamUnavailable          503 retryable (upstream 5xx, overloaded)
    │   ├── UpstreamConnectionError      502 retryable (refused, reset)
    │   ├── UpstreamTimeout              504 retryable
    │   ├── UpstreamBadResponse          502 retryable (garbage, malformed JSON)
    │   └── UpstreamRejected             the upstream's own 4xx we cannot map more exactly (fails over,
    │                                    not retried: another deployment has other credentials)
    ├── ServiceUnavailable               503 (nothing can serve the request)
    └── InternalError                    500 (a bug; logged with a traceback, never shown)
"""

from __future__ import annotations

from typing import Any, ClassVar


class KeelError(Exception):
    status: ClassVar[int] = 500
    error_type: ClassVar[str] = "api_error"
    default_code: ClassVar[str | None] = None
    retryable: ClassVar[bool] = False
    """The same call may succeed if made again (after a wait)."""
    failover: ClassVar[bool] = False
    """Another deployment may succeed where this one failed; such failures also count against the
    deployment's circuit breaker. Client errors never fail over: the request itself is at fault."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code if code is not None else self.default_code
        self.param = param
        self.headers = headers or {}

    @property
    def error_class(self) -> str:
        """Stable name recorded in the request log and in metrics labels."""
        return type(self).__name__

    def to_openai(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.code,
            }
        }


class ClientError(KeelError):
    status = 400
    error_type = "invalid_request_error"


class InvalidRequest(ClientError):
    status = 400


class GuardBlocked(ClientError):
    """A guard refused the request (PII that must not leave, a prompt injection, an input contract)."""

    default_code = "guard_blocked"


class AuthenticationFailed(ClientError):
    status = 401
    error_type = "authentication_error"
    default_code = "invalid_api_key"


class PermissionDenied(ClientError):
    status = 403
    error_type = "permission_error"
    default_code = "model_not_allowed"


class NotFound(ClientError):
    status = 404
    default_code = "not_found"


class MethodNotAllowed(ClientError):
    status = 405
    default_code = "method_not_allowed"


class PayloadTooLarge(ClientError):
    status = 413
    default_code = "payload_too_large"


class ContextWindowExceeded(ClientError):
    status = 400
    default_code = "context_length_exceeded"


class ContentPolicyViolation(ClientError):
    status = 400
    default_code = "content_policy_violation"


class RateLimited(KeelError):
    status = 429
    error_type = "rate_limit_error"
    default_code = "rate_limit_exceeded"
    retryable = True
    failover = True

    def __init__(self, message: str, *, retry_after_s: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after_s = retry_after_s
        if retry_after_s is not None:
            self.headers.setdefault("retry-after", str(max(1, round(retry_after_s))))


class UpstreamError(KeelError):
    status = 502
    error_type = "api_error"
    default_code = "upstream_error"
    retryable = True
    failover = True


class UpstreamUnavailable(UpstreamError):
    status = 503
    default_code = "upstream_unavailable"


class UpstreamConnectionError(UpstreamError):
    status = 502
    default_code = "upstream_connection_error"


class UpstreamTimeout(UpstreamError):
    status = 504
    default_code = "upstream_timeout"


class UpstreamBadResponse(UpstreamError):
    status = 502
    default_code = "upstream_bad_response"


class UpstreamRejected(UpstreamError):
    """An upstream 4xx that is not the caller's fault as far as Keel can tell (e.g. our credentials)."""

    status = 502
    default_code = "upstream_rejected"
    retryable = False


class ServiceUnavailable(KeelError):
    status = 503
    error_type = "api_error"
    default_code = "service_unavailable"
    retryable = False


class InternalError(KeelError):
    status = 500
    error_type = "api_error"
    default_code = "internal_error"
