"""How long to wait before another attempt, and how many extra attempts the process may afford."""

from __future__ import annotations

from keel.config.resilience import RetryConfig
from keel.core.clock import Clock

_MAX_EXPONENT = 1000
"""Beyond this the ceiling is far above any sane ``max_s``; capping it keeps ``2.0 ** retry`` finite."""

_EPSILON = 1e-9
"""Five deposits of 0.2 may sum to 0.9999999999999999; that still buys a retry."""


def backoff_s(retry: int, base_s: float, max_s: float, u: float) -> float:
    """Full jitter: ``u * min(max_s, base_s * 2**retry)``, with ``retry`` 0 for the first retry and ``u`` a
    uniform draw in [0, 1]. Spreading waits over the whole range keeps retrying clients from moving in step."""
    if retry < 0:
        raise ValueError("retry must be >= 0")
    if not 0 <= u <= 1:
        raise ValueError("u must be in [0, 1]")
    return u * min(max_s, base_s * 2.0 ** min(retry, _MAX_EXPONENT))


def retry_delay_s(retry: int, config: RetryConfig, u: float, retry_after_s: float | None) -> float | None:
    """The wait before the next attempt, or None when the deployment asked for a longer wait than
    ``max_retry_after_s``: then the request should move on to another deployment rather than wait."""
    backoff = backoff_s(retry, config.backoff_base_s, config.backoff_max_s, u)
    if retry_after_s is None:
        return backoff
    if retry_after_s > config.max_retry_after_s:
        return None
    return max(retry_after_s, backoff)


class RetryBudget:
    """A token bucket bounding extra attempts (retries, failovers, hedges) across requests.

    Each first attempt deposits ``ratio`` tokens and ``min_per_s`` tokens accrue per second regardless of
    traffic, so a quiet route can still retry; each extra attempt costs one token. The bucket holds at
    most ``burst_s`` seconds of the time-based accrual (and at least one token, so that ``ratio`` alone
    is usable). Without this bound an outage turns every request into ``max_attempts`` requests and
    multiplies the load on upstreams that are already failing.
    """

    def __init__(self, ratio: float, min_per_s: float, clock: Clock, burst_s: float = 10.0) -> None:
        if ratio < 0 or min_per_s < 0:
            raise ValueError("ratio and min_per_s must be >= 0")
        if burst_s <= 0:
            raise ValueError("burst_s must be > 0")
        self._ratio = ratio
        self._min_per_s = min_per_s
        self._clock = clock
        self._cap = max(1.0, min_per_s * burst_s)
        # Starting full lets a process that has just started retry at once.
        self._tokens = self._cap
        self._last = clock.monotonic()

    @property
    def capacity(self) -> float:
        return self._cap

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens

    def on_request(self) -> None:
        self._refill()
        self._tokens = min(self._cap, self._tokens + self._ratio)

    def try_spend(self) -> bool:
        self._refill()
        if self._tokens < 1 - _EPSILON:
            return False
        self._tokens = max(0.0, self._tokens - 1)
        return True

    def _refill(self) -> None:
        now = self._clock.monotonic()
        # A clock that steps back must not drain the bucket.
        elapsed = max(0.0, now - self._last)
        self._last = max(self._last, now)
        self._tokens = min(self._cap, self._tokens + self._min_per_s * elapsed)
