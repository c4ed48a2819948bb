"""Requests-per-minute and tokens-per-minute limits over every scope a request falls under.

A request is admitted only if every applicable limit (its key's, its team's, its route's…) has room: each
limit is one atomic take on a 60-second sliding window, and if any refuses, what was taken from the
others is given back. Giving back happens after the fact, so a concurrent request may briefly see the
returned room as used and be refused; no limit is ever exceeded because of it.

Tokens are taken at the request's estimate and corrected with ``settle_tokens`` once the actual count
is known.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from keel.core.clock import Clock
from keel.core.errors import RateLimited
from keel.hot.config import RateLimit
from keel.hot.store import HotStore, WindowResult

RATE_WINDOW_S = 60.0
Kind = Literal["requests", "tokens"]
KINDS: tuple[Kind, ...] = ("requests", "tokens")


@dataclass(frozen=True, slots=True)
class LimitDecision:
    admitted: bool
    headers: Mapping[str, str] = field(default_factory=dict)
    """``x-ratelimit-{limit,remaining,reset}-{requests,tokens}`` of the tightest limit of each kind."""
    retry_after_s: float | None = None
    refused_scope: str | None = None
    refused_kind: Kind | None = None
    message: str | None = None

    def raise_if_refused(self) -> None:
        if not self.admitted:
            raise RateLimited(
                self.message or "rate limit reached", retry_after_s=self.retry_after_s, headers=dict(self.headers)
            )


@dataclass(frozen=True, slots=True)
class _Check:
    scope: str
    kind: Kind
    limit: int
    amount: int

    @property
    def key(self) -> str:
        return f"rate:{self.scope}:{self.kind}"


class RateLimiter:
    def __init__(self, store: HotStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def admit(self, scopes: Sequence[tuple[str, RateLimit]], estimated_tokens: int) -> LimitDecision:
        """Take one request and ``estimated_tokens`` from every limit, or nothing at all."""
        checks = _checks(scopes, max(0, estimated_tokens))
        if not checks:
            return LimitDecision(True)
        for check in checks:
            if check.amount > check.limit:
                # Could never fit, however long the caller waits: say so instead of suggesting a retry.
                message = (
                    f"request too large for {describe_scope(check.scope)}: {check.amount} {check.kind} estimated, "
                    f"the limit is {check.limit} {check.kind} per minute"
                )
                return LimitDecision(False, {}, None, check.scope, check.kind, message)
        now = self._clock.now()
        outcomes = await asyncio.gather(
            *(self._store.window_take(c.key, c.amount, c.limit, RATE_WINDOW_S, now) for c in checks),
            return_exceptions=True,
        )
        taken = [(c, o) for c, o in zip(checks, outcomes, strict=True) if isinstance(o, WindowResult) and o.admitted]
        failure = next((o for o in outcomes if isinstance(o, BaseException)), None)
        refused = [
            (c, o) for c, o in zip(checks, outcomes, strict=True) if isinstance(o, WindowResult) and not o.admitted
        ]
        if failure is None and not refused:
            return LimitDecision(True, _headers(taken))
        await self._give_back([c for c, _ in taken], now)
        if failure is not None:
            raise failure
        # Report the counts as they stand after giving back.
        views = [(c, _without(o, c.amount)) for c, o in taken] + refused
        check, result = max(refused, key=lambda pair: pair[1].reset_s)
        message = f"rate limit of {check.limit} {check.kind} per minute for {describe_scope(check.scope)} reached"
        return LimitDecision(False, _headers(views), max(result.reset_s, 0.001), check.scope, check.kind, message)

    async def settle_tokens(self, scopes: Sequence[tuple[str, RateLimit]], estimated: int, actual: int) -> None:
        """Replace an admitted request's token estimate by its actual count."""
        delta = max(0, actual) - max(0, estimated)
        if delta == 0:
            return
        now = self._clock.now()
        keys = [c.key for c in _checks(scopes, 0) if c.kind == "tokens"]
        await asyncio.gather(*(self._store.window_adjust(key, delta, RATE_WINDOW_S, now) for key in keys))

    async def _give_back(self, taken: list[_Check], now: float) -> None:
        await asyncio.gather(
            *(self._store.window_adjust(c.key, -c.amount, RATE_WINDOW_S, now) for c in taken if c.amount > 0)
        )


def describe_scope(scope: str) -> str:
    """``team:support`` → ``team 'support'``."""
    kind, _, name = scope.partition(":")
    if not name:
        return "all traffic" if kind == "global" else repr(kind)
    return f"{kind} {name!r}"


def format_duration(seconds: float) -> str:
    """OpenAI's reset format: ``850ms``, ``12s``, ``1.5s``, ``6m0s``."""
    # Rounded to the microsecond first: wall-clock arithmetic leaves float dust such as 55.70000004.
    millis = max(0, math.ceil(round(seconds * 1000, 3)))
    if millis < 1000:
        return f"{millis}ms"
    minutes, millis = divmod(millis, 60_000)
    whole, fraction = divmod(millis, 1000)
    text = f"{whole}.{fraction:03d}".rstrip("0").rstrip(".")
    return f"{minutes}m{text}s" if minutes else f"{text}s"


def _checks(scopes: Sequence[tuple[str, RateLimit]], tokens: int) -> list[_Check]:
    checks: list[_Check] = []
    for scope, limit in scopes:
        if limit.rpm is not None:
            checks.append(_Check(scope, "requests", limit.rpm, 1))
        if limit.tpm is not None:
            checks.append(_Check(scope, "tokens", limit.tpm, tokens))
    return checks


def _without(result: WindowResult, amount: int) -> WindowResult:
    return WindowResult(result.admitted, max(0, result.used - amount), result.limit, result.reset_s)


def _headers(results: Sequence[tuple[_Check, WindowResult]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for kind in KINDS:
        of_kind = [result for check, result in results if check.kind == kind]
        if not of_kind:
            continue
        tightest = min(of_kind, key=lambda r: (r.remaining, r.limit))
        headers[f"x-ratelimit-limit-{kind}"] = str(tightest.limit)
        headers[f"x-ratelimit-remaining-{kind}"] = str(tightest.remaining)
        headers[f"x-ratelimit-reset-{kind}"] = format_duration(tightest.reset_s)
    return headers
