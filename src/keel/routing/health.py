"""Live state of deployments in this process: circuits, latency, load, capacity, retry budgets.

Kept across config reloads (a reload must not reset an open circuit); each piece reads the current
config of a deployment or route through a lookup, so changed thresholds apply at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from keel.config.resilience import Capacity, CircuitConfig, RetryConfig
from keel.config.runtime import Deployment, Route
from keel.core.clock import Clock
from keel.routing.balance import LatencyTracker
from keel.routing.capacity import CapacityTracker
from keel.routing.circuit import CircuitBreakers
from keel.routing.retry import RetryBudget

_DEFAULT_CIRCUIT = CircuitConfig()


class Health:
    def __init__(self, deployments: Callable[[], Mapping[str, Deployment]], clock: Clock) -> None:
        self._deployments = deployments
        self._clock = clock
        self.breakers = CircuitBreakers(self._circuit, clock)
        self.capacity = CapacityTracker(self._capacity, clock)
        self.latency = LatencyTracker()
        self.in_flight: dict[str, int] = {}
        self._budgets: dict[str, tuple[RetryConfig, RetryBudget]] = {}

    def _circuit(self, name: str) -> CircuitConfig:
        dep = self._deployments().get(name)
        return dep.config.circuit if dep is not None else _DEFAULT_CIRCUIT

    def _capacity(self, name: str) -> Capacity | None:
        dep = self._deployments().get(name)
        return dep.config.capacity if dep is not None else None

    def provisioned(self, name: str) -> bool:
        return self._capacity(name) is not None

    def budget(self, route: Route) -> RetryBudget:
        """The route's retry budget; a changed retry config starts a fresh one."""
        config = route.config.retries
        entry = self._budgets.get(route.name)
        if entry is None or (entry[0] is not config and entry[0] != config):
            entry = (config, RetryBudget(config.budget_ratio, config.budget_min_per_s, self._clock))
            self._budgets[route.name] = entry
        return entry[1]

    def started(self, name: str) -> None:
        self.in_flight[name] = self.in_flight.get(name, 0) + 1

    def ended(self, name: str) -> None:
        self.in_flight[name] = self.in_flight.get(name, 1) - 1
