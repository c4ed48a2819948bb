"""Config for the hot counters: where they live, rate limits, and budgets."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

from pydantic import Field, model_validator

from keel.config.base import StrictModel
from keel.cost.money import usd_to_nanos
from keel.hot.memory import MemoryHotStore
from keel.hot.redis_store import RedisHotStore
from keel.hot.resilient import FailoverHotStore
from keel.hot.store import HotStore

BudgetPeriod = Literal["day", "week", "month"]
BudgetScope = Literal["key", "team", "route", "global"]


class HotStoreConfig(StrictModel):
    backend: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    # No braces: the prefix sits inside each key's Redis Cluster hash tag.
    key_prefix: str = Field(default="keel", min_length=1, max_length=64, pattern=r"^[^{}\s]+$")
    on_failure: Literal["open", "closed"] = "open"
    timeout_s: float = Field(default=0.25, gt=0, le=10)


class RateLimit(StrictModel):
    rpm: int | None = Field(default=None, gt=0)
    tpm: int | None = Field(default=None, gt=0)


class Budget(StrictModel):
    name: str = Field(min_length=1, max_length=128, pattern=r"^\S+$")
    scope: BudgetScope
    target: str | None = Field(default=None, min_length=1)
    """What the budget covers: the key id, team or route name; ``None`` for the global budget."""
    period: BudgetPeriod
    limit_usd: float = Field(gt=0, le=9_000_000)
    """Counted in whole nano-dollars, like the request log, so budget and spend agree exactly (up to $9M a
    period, the range in which every nano-dollar is exact in Redis scripts' numbers)."""
    alert_at: tuple[float, ...] = (0.5, 0.8, 1.0)
    """Fractions of the limit at which an alert fires, once per period each."""
    hard_stop: bool = True
    """Refuse requests once the budget is spent; a soft budget only alerts."""

    @model_validator(mode="after")
    def _check(self) -> Budget:
        if (self.scope == "global") != (self.target is None):
            raise ValueError("target is required for key, team and route budgets and must be absent for global")
        if any(fraction <= 0 for fraction in self.alert_at):
            raise ValueError("alert_at fractions must be positive")
        if list(self.alert_at) != sorted(set(self.alert_at)):
            raise ValueError("alert_at fractions must be increasing, without repeats")
        if self.limit_nanos < 1:
            raise ValueError("limit_usd must be at least one nano-dollar")
        return self

    @property
    def limit_nanos(self) -> int:
        return usd_to_nanos(self.limit_usd)

    def describe(self) -> str:
        """``team support, month`` — for messages."""
        where = "global" if self.scope == "global" else f"{self.scope} {self.target}"
        return f"{where}, {self.period}"


def build_hot_store(
    config: HotStoreConfig,
    *,
    logger: logging.Logger | None = None,
    on_state: Callable[[bool], None] | None = None,
) -> HotStore:
    """In-process counters, or Redis with a local fallback following ``on_failure``."""
    if config.backend == "memory":
        return MemoryHotStore()
    primary = RedisHotStore(config.redis_url, key_prefix=config.key_prefix, timeout_s=config.timeout_s)
    return FailoverHotStore(primary, MemoryHotStore(), config.on_failure, logger, on_state)
