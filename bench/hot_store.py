"""Keel CPU per request spent on rate limits and budgets in Redis, without the rest of the gateway.

Each simulated request does what the admission stage does on a route with one rate limit (requests and
tokens) and two hard-stop budgets (global and route): admit, reserve, a turn of the event loop standing
in for the upstream call, the token correction and the commit. Requests run ``--concurrency`` at a
time against the Redis at ``--redis`` (keys under a fresh prefix, deleted afterwards).

    .venv/bin/python bench/hot_store.py [--concurrency 1 64] [--requests 20000]

CPU is this process's (``time.process_time``); Redis's own work is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time

from redis.asyncio import Redis

from keel.core.clock import SystemClock
from keel.hot.budgets import BudgetLedger
from keel.hot.config import Budget, RateLimit
from keel.hot.limits import RateLimiter
from keel.hot.redis_store import RedisHotStore

SCOPES = [("route:bench", RateLimit(rpm=10**9, tpm=10**12))]
BUDGETS = [
    Budget(name="all", scope="global", period="month", limit_usd=9_000_000),
    Budget(name="bench", scope="route", target="bench", period="day", limit_usd=9_000_000),
]


async def measure(url: str, concurrency: int, requests: int) -> None:
    prefix = f"keel-bench-{secrets.token_hex(4)}"
    store = RedisHotStore(url, key_prefix=prefix)
    clock = SystemClock()
    limiter, ledger = RateLimiter(store, clock), BudgetLedger(store, clock)
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            (await limiter.admit(SCOPES, 100)).raise_if_refused()
            reservation = await ledger.reserve(BUDGETS, 1000)
            await asyncio.sleep(0)
            await limiter.settle_tokens(SCOPES, 100, 90)
            await ledger.commit(reservation, 900)

    try:
        await asyncio.gather(*(one() for _ in range(min(500, requests))))  # warm-up: connections, scripts
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(one() for _ in range(requests)))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        print(
            f"concurrency {concurrency:>3}: {cpu / requests * 1e6:6.0f} us CPU per request, "
            f"{requests / wall:8,.0f} requests/s"
        )
    finally:
        await store.aclose()
        client = Redis.from_url(url)
        keys = [key async for key in client.scan_iter(match=f"{{{prefix}:*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--requests", type=int, default=20_000)
    args = parser.parse_args()
    for concurrency in args.concurrency:
        asyncio.run(measure(args.redis, concurrency, args.requests if concurrency > 1 else args.requests // 4))


if __name__ == "__main__":
    main()
