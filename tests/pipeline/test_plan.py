"""The attempt plan: strategy order, exclusions, spillover, fallbacks, and context-window fallback."""

from __future__ import annotations

import random
from pathlib import Path

from keel.config.loader import read_runtime_config
from keel.config.runtime import Deployment, RuntimeConfig
from keel.core.clock import SystemClock
from keel.pipeline.plan import make_plan
from keel.routing.health import Health

CONFIG = """\
routes:
  bot:
    deployments: [small, big]
    fallbacks: [other-region]
    context_window_fallback: huge
  pool:
    deployments: [ptu, paygo]
deployments:
  small: {provider: simulator, context_window: 100}
  big: {provider: simulator, context_window: 1000}
  huge: {provider: simulator, context_window: 100000}
  other-region: {provider: simulator, region: eu}
  ptu: {provider: simulator, capacity: {concurrency: 1}}
  paygo: {provider: simulator}
"""


def setup() -> tuple[RuntimeConfig, Health]:
    cfg = read_runtime_config(CONFIG, file="k.yaml", base_dir=Path("."), env={})
    return cfg, Health(lambda: cfg.deployments, SystemClock())


def plan(
    cfg: RuntimeConfig, health: Health, route: str, prompt: str = "hi", excluded: set[str] | None = None
) -> list[tuple[str, str]]:
    body = {"model": route, "messages": [{"role": "user", "content": prompt}]}
    reasons: list[str] = []

    def off(dep: Deployment) -> str | None:
        return f"{dep.name} is off" if dep.name in (excluded or set()) else None

    steps = make_plan(cfg.routes[route], cfg.deployments, health, body, None, off, random.Random(1), reasons)
    return [(s.deployment, s.kind) for s in steps]


def test_priority_then_fallbacks() -> None:
    cfg, health = setup()
    assert plan(cfg, health, "bot") == [("small", "primary"), ("big", "failover"), ("other-region", "failover")]


def test_switched_off_deployments_are_left_out() -> None:
    cfg, health = setup()
    assert plan(cfg, health, "bot", excluded={"small"}) == [("big", "primary"), ("other-region", "failover")]


def test_long_prompt_goes_to_the_context_window_fallback_first() -> None:
    cfg, health = setup()
    medium = "word " * 200  # ~250 tokens: too long for `small`, fits `big`
    assert plan(cfg, health, "bot", medium) == [("huge", "fallback"), ("big", "failover"), ("other-region", "failover")]
    enormous = "word " * 10_000  # fits only `huge` (and the region fallback, which declares no window)
    assert plan(cfg, health, "bot", enormous) == [("huge", "fallback"), ("other-region", "failover")]


def test_full_provisioned_deployment_spills_over() -> None:
    cfg, health = setup()
    assert plan(cfg, health, "pool") == [("ptu", "primary"), ("paygo", "failover")]
    health.capacity.acquire("ptu", 10)  # its one concurrent slot is taken
    assert plan(cfg, health, "pool") == [("paygo", "spillover"), ("ptu", "failover")]
