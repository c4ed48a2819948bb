"""Hot counters: rate limits and budgets that hold across replicas.

In-process by default (``MemoryHotStore``); shared through Redis at scale (``RedisHotStore``, wrapped in
``FailoverHotStore`` for Redis outages). See docs/hot-counters.md for the algorithms and overshoot bounds.
"""

from keel.hot.budgets import AlertCrossing, BudgetExceeded, BudgetLedger, Reservation, budgets_for
from keel.hot.config import Budget, BudgetPeriod, HotStoreConfig, RateLimit, build_hot_store
from keel.hot.limits import LimitDecision, RateLimiter
from keel.hot.memory import MemoryHotStore
from keel.hot.redis_store import RedisHotStore
from keel.hot.resilient import FailoverHotStore
from keel.hot.store import HotStore, HotStoreUnavailable, WindowResult

__all__ = [
    "AlertCrossing",
    "Budget",
    "BudgetExceeded",
    "BudgetLedger",
    "BudgetPeriod",
    "FailoverHotStore",
    "HotStore",
    "HotStoreConfig",
    "HotStoreUnavailable",
    "LimitDecision",
    "MemoryHotStore",
    "RateLimit",
    "RateLimiter",
    "RedisHotStore",
    "Reservation",
    "WindowResult",
    "budgets_for",
    "build_hot_store",
]
