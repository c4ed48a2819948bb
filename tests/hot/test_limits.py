"""RateLimiter: every scope or none, the tightest limit's headers, the refusing scope named."""

from __future__ import annotations

import pytest

from keel.core.errors import RateLimited, ServiceUnavailable
from keel.hot.config import RateLimit
from keel.hot.limits import RateLimiter, describe_scope, format_duration
from keel.hot.memory import MemoryHotStore
from keel.hot.store import HotStore, WindowResult
from tests.clocks import ManualClock

KEY = ("key:key_1", RateLimit(rpm=10, tpm=10_000))
TEAM = ("team:support", RateLimit(rpm=2, tpm=50_000))
ROUTE = ("route:bot", RateLimit(tpm=1_000))


async def used(store: HotStore, scope: str, kind: str, clock: ManualClock) -> int:
    return (await store.window_take(f"rate:{scope}:{kind}", 0, 10**9, 60.0, clock.now())).used


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(wall=1_795_608_000.3)


async def test_admits_and_reports_the_tightest_limits(store: HotStore, clock: ManualClock) -> None:
    limiter = RateLimiter(store, clock)
    decision = await limiter.admit([KEY, TEAM], estimated_tokens=400)
    assert decision.admitted and decision.retry_after_s is None and decision.refused_scope is None
    assert decision.headers == {
        "x-ratelimit-limit-requests": "2",  # the team's: 1 left, against the key's 9
        "x-ratelimit-remaining-requests": "1",
        "x-ratelimit-reset-requests": "1m0.7s",
        "x-ratelimit-limit-tokens": "10000",  # the key's: 9600 left, against the team's 49600
        "x-ratelimit-remaining-tokens": "9600",
        "x-ratelimit-reset-tokens": "1m0.7s",
    }
    decision.raise_if_refused()


async def test_all_or_nothing_gives_back_what_other_scopes_took(store: HotStore, clock: ManualClock) -> None:
    limiter = RateLimiter(store, clock)
    for _ in range(2):
        assert (await limiter.admit([KEY, TEAM, ROUTE], 100)).admitted
    clock.advance(5.0)
    refused = await limiter.admit([KEY, TEAM, ROUTE], 100)
    assert not refused.admitted
    assert refused.refused_scope == "team:support" and refused.refused_kind == "requests"
    assert refused.message == "rate limit of 2 requests per minute for team 'support' reached"
    assert refused.retry_after_s == pytest.approx(55.7)  # both takes sit in bucket 1795608000
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    assert refused.headers["x-ratelimit-reset-requests"] == "55.7s"
    # Nothing of the refused request stays counted anywhere.
    assert await used(store, "key:key_1", "requests", clock) == 2
    assert await used(store, "key:key_1", "tokens", clock) == 200
    assert await used(store, "route:bot", "tokens", clock) == 200


async def test_tokens_refuse_with_the_scope_named(clock: ManualClock) -> None:
    limiter = RateLimiter(MemoryHotStore(), clock)
    assert (await limiter.admit([ROUTE], 800)).admitted
    refused = await limiter.admit([ROUTE], 300)
    assert refused.message == "rate limit of 1000 tokens per minute for route 'bot' reached"
    assert refused.headers["x-ratelimit-remaining-tokens"] == "200"
    assert "x-ratelimit-limit-requests" not in refused.headers  # the route has no request limit


async def test_settle_tokens_replaces_the_estimate(store: HotStore, clock: ManualClock) -> None:
    limiter = RateLimiter(store, clock)
    assert (await limiter.admit([ROUTE, KEY], 900)).admitted
    assert not (await limiter.admit([ROUTE], 200)).admitted
    await limiter.settle_tokens([ROUTE, KEY], estimated=900, actual=300)
    assert await used(store, "route:bot", "tokens", clock) == 300
    assert await used(store, "key:key_1", "tokens", clock) == 300
    assert (await limiter.admit([ROUTE], 700)).admitted
    await limiter.settle_tokens([ROUTE], estimated=700, actual=750)  # more than estimated counts too
    assert await used(store, "route:bot", "tokens", clock) == 1050
    assert await used(store, "key:key_1", "requests", clock) == 1  # requests are never adjusted


async def test_a_request_larger_than_a_limit_is_refused_without_taking(clock: ManualClock) -> None:
    store = MemoryHotStore()
    limiter = RateLimiter(store, clock)
    refused = await limiter.admit([KEY, ROUTE], 5_000)
    assert not refused.admitted and refused.retry_after_s is None
    assert (
        refused.message
        == "request too large for route 'bot': 5000 tokens estimated, the limit is 1000 tokens per minute"
    )
    assert await used(store, "key:key_1", "requests", clock) == 0


async def test_the_window_slides(clock: ManualClock) -> None:
    limiter = RateLimiter(MemoryHotStore(), clock)
    for _ in range(2):
        assert (await limiter.admit([TEAM], 1)).admitted
    refused = await limiter.admit([TEAM], 1)
    assert not refused.admitted and refused.retry_after_s is not None
    clock.advance(refused.retry_after_s)
    assert (await limiter.admit([TEAM], 1)).admitted


async def test_no_limits_admit_without_headers(clock: ManualClock) -> None:
    decision = await RateLimiter(MemoryHotStore(), clock).admit([("key:k", RateLimit())], 10)
    assert decision.admitted and decision.headers == {}


async def test_raise_if_refused_gives_a_429_with_retry_after(clock: ManualClock) -> None:
    limiter = RateLimiter(MemoryHotStore(), clock)
    await limiter.admit([TEAM], 1)
    await limiter.admit([TEAM], 1)
    with pytest.raises(RateLimited) as caught:
        (await limiter.admit([TEAM], 1)).raise_if_refused()
    error = caught.value
    assert error.status == 429 and error.code == "rate_limit_exceeded"
    assert error.headers["retry-after"] == "61"
    assert error.headers["x-ratelimit-limit-requests"] == "2"
    assert "team 'support'" in error.message


class FailingOn:
    """A store whose takes on one key fail, as a closed-policy store does during an outage."""

    def __init__(self, inner: MemoryHotStore, key: str) -> None:
        self.inner, self.key = inner, key

    async def window_take(self, key: str, amount: int, limit: int, window_s: float, now: float) -> WindowResult:
        if key == self.key:
            raise ServiceUnavailable("down", code="hot_store_unavailable")
        return await self.inner.window_take(key, amount, limit, window_s, now)

    async def window_adjust(self, key: str, delta: int, window_s: float, now: float) -> None:
        await self.inner.window_adjust(key, delta, window_s, now)


async def test_a_failing_take_gives_back_the_others_and_raises(clock: ManualClock) -> None:
    inner = MemoryHotStore()
    limiter = RateLimiter(FailingOn(inner, "rate:team:support:tokens"), clock)  # type: ignore[arg-type]
    with pytest.raises(ServiceUnavailable):
        await limiter.admit([KEY, TEAM], 10)
    assert await used(inner, "key:key_1", "requests", clock) == 0
    assert await used(inner, "key:key_1", "tokens", clock) == 0
    assert await used(inner, "team:support", "requests", clock) == 0


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.0, "0ms"), (0.85, "850ms"), (0.0004, "1ms"), (1.0, "1s"), (12.0, "12s"), (1.5, "1.5s"), (60.0, "1m0s"),
     (360.0, "6m0s"), (61.25, "1m1.25s")],
)  # fmt: skip
def test_durations_in_openai_style(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_scopes_are_described_for_people() -> None:
    assert describe_scope("team:support") == "team 'support'"
    assert describe_scope("key:key_1") == "key 'key_1'"
    assert describe_scope("global") == "all traffic"
