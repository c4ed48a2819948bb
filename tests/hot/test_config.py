"""Strict config for the hot counters, and the store it builds."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from keel.hot.config import Budget, HotStoreConfig, RateLimit, build_hot_store
from keel.hot.memory import MemoryHotStore
from keel.hot.redis_store import RedisHotStore
from keel.hot.resilient import FailoverHotStore


def test_defaults_are_in_process() -> None:
    config = HotStoreConfig()
    assert (config.backend, config.key_prefix, config.on_failure, config.timeout_s) == ("memory", "keel", "open", 0.25)
    assert isinstance(build_hot_store(config), MemoryHotStore)


async def test_redis_backend_is_wrapped_in_failover() -> None:
    states: list[bool] = []
    config = HotStoreConfig.model_validate_json(
        '{"backend": "redis", "key_prefix": "gw1", "on_failure": "closed", "timeout_s": 0.1}'
    )
    store = build_hot_store(config, on_state=states.append)
    assert isinstance(store, FailoverHotStore)
    assert isinstance(store.primary, RedisHotStore) and store.primary.key_prefix == "gw1"
    assert store.policy == "closed" and states == [True]
    await store.aclose()


@pytest.mark.parametrize(
    "raw",
    [
        '{"backend": "memcached"}',
        '{"key_prefix": "a{b}"}',
        '{"key_prefix": ""}',
        '{"timeout_s": 0}',
        '{"on_failure": "maybe"}',
        '{"redis": "redis://x"}',
        '{"timeout_s": "0.25"}',
    ],
)
def test_bad_store_config_is_refused(raw: str) -> None:
    with pytest.raises(ValidationError):
        HotStoreConfig.model_validate_json(raw)


def test_rate_limits_are_positive() -> None:
    assert RateLimit(rpm=60).tpm is None
    for bad in ({"rpm": 0}, {"tpm": -5}, {"rpm": 1.5}, {"rps": 1}):
        with pytest.raises(ValidationError):
            RateLimit.model_validate(bad)


def test_budget_from_yaml_shaped_json() -> None:
    budget = Budget.model_validate_json(
        '{"name": "support-monthly", "scope": "team", "target": "support", "period": "month",'
        ' "limit_usd": 50, "alert_at": [0.5, 0.9], "hard_stop": false}'
    )
    assert budget.alert_at == (0.5, 0.9) and budget.limit_nanos == 50_000_000_000 and not budget.hard_stop
    assert budget.describe() == "team support, month"
    assert Budget(name="all", scope="global", period="day", limit_usd=0.05).limit_nanos == 50_000_000


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"scope": "global", "target": "x"}, "target"),
        ({"scope": "team", "target": None}, "target"),
        ({"limit_usd": 0}, "greater than 0"),
        ({"alert_at": (0.8, 0.5)}, "increasing"),
        ({"alert_at": (0.5, 0.5)}, "increasing"),
        ({"alert_at": (0.0,)}, "positive"),
        ({"period": "year"}, "period"),
        ({"name": "has space"}, "name"),
        ({"limit_usd": 1e-10}, "nano-dollar"),
    ],
)
def test_bad_budgets_are_refused(fields: dict[str, object], problem: str) -> None:
    base: dict[str, object] = {"name": "b", "scope": "team", "target": "t", "period": "month", "limit_usd": 5.0}
    base.update(fields)
    with pytest.raises(ValidationError, match=problem):
        Budget.model_validate(base)
