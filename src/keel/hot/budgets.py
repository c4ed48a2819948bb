"""Spend budgets per key, team, route or globally, per UTC day, ISO week or month, shared by all replicas.

Before a request runs, its estimated cost is reserved against every applicable hard-stop budget in one
atomic check (``committed + reserved + estimate <= limit``); after it ran, the reservation is released
and the actual cost committed. The only way past a limit is a request costing more than its estimate:
the committed total stays within the limit plus the sum, over the requests in flight together, of
``actual - estimate`` where positive (nothing at all when estimates are upper bounds).

Alert thresholds fire once per budget, period and threshold across all replicas: the first commit that
sees the threshold reached wins an atomic "set if not set" on the shared store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from keel.core.clock import Clock
from keel.core.errors import RateLimited
from keel.hot.config import Budget
from keel.hot.periods import Period, period_at
from keel.hot.store import HotStore

# Counters outlive their period by this much, so the last period's spend can still be read.
PERIOD_GRACE_S = 2 * 86_400.0
_MAX_KNOWN_FLAGS = 10_000


class BudgetExceeded(RateLimited):
    """A hard-stop budget has no room for the request: OpenAI's quota error (429 ``insufficient_quota``)."""

    error_type = "insufficient_quota"
    default_code = "insufficient_quota"
    # Nothing changes until the period rolls over; another deployment is no cheaper for the budget.
    retryable = False
    failover = False

    exhausted: AlertCrossing | None = None
    """Set on the first refusal of a budget in its period (across replicas): the "exhausted" alert to send."""


@dataclass(frozen=True, slots=True)
class Hold:
    budget: Budget
    counter_key: str
    period: Period
    reserved: int


@dataclass(frozen=True, slots=True)
class Reservation:
    holds: tuple[Hold, ...]
    estimate_nanos: int


@dataclass(frozen=True, slots=True)
class AlertCrossing:
    budget: Budget
    period: str
    threshold: float
    spent_nanos: int
    limit_nanos: int


class BudgetLedger:
    def __init__(self, store: HotStore, clock: Clock, *, grace_s: float = PERIOD_GRACE_S) -> None:
        self._store = store
        self._clock = clock
        self._grace_s = grace_s
        # Alert flags this process has seen set: no store round trip for them again this period.
        self._known_flags: set[str] = set()

    async def reserve(self, budgets: Sequence[Budget], estimate_nanos: int) -> Reservation:
        """Hold the estimate on every hard-stop budget, or on none; raises ``BudgetExceeded``."""
        now = self._clock.now()
        holds: list[Hold] = []
        for budget in budgets:
            period = period_at(budget.period, now)
            # A request always costs something: a spent budget refuses even a zero estimate.
            amount = max(1, estimate_nanos) if budget.hard_stop else 0
            holds.append(Hold(budget, counter_key(budget, period), period, amount))
        hard = [hold for hold in holds if hold.reserved > 0]
        outcomes = await asyncio.gather(
            *(
                self._store.counter_reserve(h.counter_key, h.reserved, h.budget.limit_nanos, self._ttl(h.period, now))
                for h in hard
            ),
            return_exceptions=True,
        )
        held = [h for h, o in zip(hard, outcomes, strict=True) if isinstance(o, tuple) and o[0]]
        failure = next((o for o in outcomes if isinstance(o, BaseException)), None)
        refused = [h for h, o in zip(hard, outcomes, strict=True) if isinstance(o, tuple) and not o[0]]
        if failure is None and not refused:
            return Reservation(tuple(holds), estimate_nanos)
        await asyncio.gather(
            *(self._store.counter_settle(h.counter_key, h.reserved, 0, self._ttl(h.period, now)) for h in held)
        )
        if failure is not None:
            raise failure
        raise await self._exhausted(refused[0], now)

    async def commit(self, reservation: Reservation, actual_nanos: int) -> list[AlertCrossing]:
        """Release the reservation, commit the actual cost; the alert thresholds this commit crossed first."""
        now = self._clock.now()
        actual = max(0, actual_nanos)
        totals = await asyncio.gather(
            *(
                self._store.counter_settle(h.counter_key, h.reserved, actual, self._ttl(h.period, now))
                for h in reservation.holds
            )
        )
        crossings: list[AlertCrossing] = []
        for hold, committed in zip(reservation.holds, totals, strict=True):
            crossings.extend(await self._alerts(hold, committed, now))
        return crossings

    async def spent(self, budget: Budget) -> int:
        """Micro-dollars committed in the budget's current period."""
        committed, _ = await self._store.counter_get(counter_key(budget, period_at(budget.period, self._clock.now())))
        return committed

    async def _alerts(self, hold: Hold, committed: int, now: float) -> list[AlertCrossing]:
        budget = hold.budget
        crossings: list[AlertCrossing] = []
        for threshold in budget.alert_at:
            if committed < threshold_nanos(budget, threshold):
                break  # alert_at is increasing
            flag = f"{hold.counter_key}:alert:{threshold!r}"
            if flag in self._known_flags:
                continue
            won = await self._store.flag_set(flag, self._ttl(hold.period, now))
            if len(self._known_flags) >= _MAX_KNOWN_FLAGS:
                self._known_flags.clear()
            self._known_flags.add(flag)
            if won:
                crossings.append(AlertCrossing(budget, hold.period.key, threshold, committed, budget.limit_nanos))
        return crossings

    async def _exhausted(self, hold: Hold, now: float) -> BudgetExceeded:
        committed, reserved = await self._store.counter_get(hold.counter_key)
        budget = hold.budget
        message = (
            f"budget '{budget.name}' ({budget.describe()}) is exhausted: "
            f"{format_usd(committed)} of {format_usd(budget.limit_nanos)} spent"
        )
        if reserved:
            message += f", {format_usd(reserved)} held by requests in flight"
        error = BudgetExceeded(message, retry_after_s=max(1.0, hold.period.ends_at - now))
        # One "exhausted" alert per budget and period, whichever replica refuses first.
        flag = f"{hold.counter_key}:exhausted"
        if flag not in self._known_flags and await self._store.flag_set(flag, self._ttl(hold.period, now)):
            error.exhausted = AlertCrossing(budget, hold.period.key, 1.0, committed, budget.limit_nanos)
        self._known_flags.add(flag)
        return error

    def _ttl(self, period: Period, now: float) -> float:
        return max(60.0, period.ends_at - now + self._grace_s)


def counter_key(budget: Budget, period: Period) -> str:
    return f"budget:{budget.name}:{period.key}"


def threshold_nanos(budget: Budget, fraction: float) -> int:
    # Fractions are binary floats (0.57 * 100 is 56.99999999999999): round to the nearest nano-dollar first.
    return max(1, round(fraction * budget.limit_nanos))


def format_usd(nanos: int) -> str:
    """Whole cents, rounded down: $49.999 is shown as $49.99, never as the limit itself."""
    cents = nanos // 10_000_000
    return f"${cents // 100:,}.{cents % 100:02d}"


def budgets_for(budgets: Sequence[Budget], *, key_id: str | None, team: str | None, route: str | None) -> list[Budget]:
    """The budgets a request with this key, team and route counts against."""
    targets = {"key": key_id, "team": team, "route": route}
    return [b for b in budgets if b.scope == "global" or (b.target is not None and targets[b.scope] == b.target)]
