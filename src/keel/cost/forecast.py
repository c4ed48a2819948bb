"""The monthly cost the request log projects, at a chosen traffic and with the cache or tiers switched off.

Each route's cost over the observed span (first to last request in the window, at least an hour) is
turned into a daily rate and multiplied by 30 days and the traffic multiplier. The what-ifs re-price
the same requests:

- cache off: each cache hit costs what the route's other requests cost on average;
- cache on: routes with the cache keep their observed hit rate; a route without one can only be given
  a hit rate the caller assumes (its requests are priced at that average, the hits at nothing);
- tiers off: every request a tier answered is priced at the strongest tier (see ``tier_report``).

Intermediate amounts are exact fractions of nano-dollars; each route's monthly figure is rounded once,
half to even, to whole nano-dollars, and totals add the rounded figures, so a table always adds up.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal, get_args

from keel.config.runtime import RuntimeConfig
from keel.cost.money import decimal_of
from keel.cost.tier_report import StrongPrice, all_strong_nanos, repriced, strongest_price
from keel.store.sql_cost_history import CostSlice

DAYS_PER_MONTH = 30
DAY_S = 86_400
MIN_SPAN_S = 3_600
"""A shorter span (a handful of requests at once) would extrapolate a burst into a month."""

Mode = Literal["on", "off", "as-is"]
MODES: tuple[str, ...] = get_args(Mode)

_TRAFFIC = re.compile(r"(\d+(?:\.\d+)?)(x|%)?", re.IGNORECASE)
_RATE = re.compile(r"(\d+(?:\.\d+)?)(%)?")


def parse_traffic(text: str) -> Fraction:
    """A traffic multiplier: ``10x``, ``10``, ``0.5x`` or ``150%``. Raises ValueError for anything else."""
    match = _TRAFFIC.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a traffic multiplier such as 10x, 10, 0.5x or 150%")
    value = Fraction(match.group(1)) / (100 if match.group(2) == "%" else 1)
    if value <= 0:
        raise ValueError(f"{text!r} would mean no traffic at all")
    return value


def parse_hit_rate(text: str) -> Fraction:
    """A cache hit rate: ``0.3`` or ``30%``, from 0 to 1. Raises ValueError for anything else."""
    match = _RATE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a hit rate such as 0.3 or 30%")
    value = Fraction(match.group(1)) / (100 if match.group(2) else 1)
    if value > 1:
        raise ValueError(f"{text!r} is more than every request")
    return value


@dataclass(frozen=True, slots=True)
class Scenario:
    cache: Mode = "as-is"
    tiers: Mode = "as-is"
    hit_rate: Fraction | None = None
    """Assumed for routes without a cache when ``cache`` is on."""


COMPARISON: tuple[tuple[str, Scenario], ...] = (
    ("as-is", Scenario()),
    ("cache off", Scenario(cache="off")),
    ("tiers off", Scenario(tiers="off")),
    ("both off", Scenario(cache="off", tiers="off")),
)


@dataclass(frozen=True, slots=True)
class RouteFacts:
    """What the config says about a route that the what-ifs need."""

    cached: bool = False
    """The route has the exact cache enabled."""
    strong: StrongPrice | None = None
    """The strongest tier's price; None for a route without tiers."""


def route_facts(config: RuntimeConfig) -> dict[str, RouteFacts]:
    """The facts of every configured route; routes only the log knows get ``RouteFacts()``."""
    return {
        name: RouteFacts(
            cached=route.config.cache is not None and route.config.cache.enabled,
            strong=None if route.config.tiering is None else strongest_price(config, route.config.tiering),
        )
        for name, route in config.routes.items()
    }


def route_label(route: str | None) -> str:
    return "(no route)" if route is None else route


def window_cost(
    route: str | None, slices: Sequence[CostSlice], facts: RouteFacts, scenario: Scenario
) -> tuple[Fraction, list[str]]:
    """One route's cost over the window under ``scenario`` in nano-dollars, with notes on what it left as is."""
    label = route_label(route)
    notes: list[str] = []
    hits = sum(s.requests for s in slices if s.cache_hit)
    hit_cost = Fraction(sum(s.cost_nanos for s in slices if s.cache_hit))
    others = [s for s in slices if not s.cache_hit]
    other_requests = sum(s.requests for s in others)
    other_cost = Fraction(sum(s.cost_nanos for s in others))
    if scenario.tiers == "off" and facts.strong is not None and any(repriced(s) for s in others):
        if facts.strong.price is None:
            notes.append(f"{label}: {facts.strong.deployment} (strongest tier) has no price; tiers kept as observed")
        else:
            other_cost = Fraction(all_strong_nanos(others, facts.strong.price))
    elif scenario.tiers == "on" and facts.strong is None:
        notes.append(f"{label}: has no tiers to turn on; kept as observed")
    if scenario.cache == "off" and hits:
        if other_requests:
            return other_cost + other_cost / other_requests * hits, notes
        notes.append(f"{label}: every request was a cache hit, leaving nothing to price a miss by; kept as observed")
    elif scenario.cache == "on" and not facts.cached:
        if scenario.hit_rate is None:
            notes.append(f"{label}: has no cache and no hit rate was assumed for it; kept as observed")
        elif other_requests:
            return other_cost / other_requests * (hits + other_requests) * (1 - scenario.hit_rate), notes
    return other_cost + hit_cost, notes


@dataclass(frozen=True, slots=True)
class Span:
    """The stretch of time the requests were observed over."""

    first_ts: float
    last_ts: float

    @property
    def seconds(self) -> Fraction:
        """From the first request to the last, at least ``MIN_SPAN_S``; exact as the timestamps read."""
        return max(Fraction(decimal_of(self.last_ts) - decimal_of(self.first_ts)), Fraction(MIN_SPAN_S))

    @property
    def days(self) -> Fraction:
        return self.seconds / DAY_S


@dataclass(frozen=True, slots=True)
class RouteForecast:
    route: str | None
    requests: int
    requests_per_day: Fraction
    cost_per_day: Fraction  # nano-dollars, observed
    baseline_nanos: int  # a month as observed, at the chosen traffic
    scenario_nanos: int  # a month under the chosen scenario, at the chosen traffic

    @property
    def difference_nanos(self) -> int:
        return self.scenario_nanos - self.baseline_nanos


@dataclass(frozen=True, slots=True)
class Forecast:
    span: Span
    traffic: Fraction
    scenario: Scenario
    routes: tuple[RouteForecast, ...]
    """Most expensive (as observed) first."""
    comparison: tuple[tuple[str, int], ...]
    """The monthly total of every scenario in ``COMPARISON``, in nano-dollars."""
    notes: tuple[str, ...]
    """What the chosen scenario left as observed, and why."""
    comparison_notes: tuple[str, ...]
    """The same for the scenarios in ``comparison``."""

    @property
    def total(self) -> RouteForecast:
        """Every route added up (its ``route`` is None)."""
        return RouteForecast(
            route=None,
            requests=sum(r.requests for r in self.routes),
            requests_per_day=sum((r.requests_per_day for r in self.routes), Fraction(0)),
            cost_per_day=sum((r.cost_per_day for r in self.routes), Fraction(0)),
            baseline_nanos=sum(r.baseline_nanos for r in self.routes),
            scenario_nanos=sum(r.scenario_nanos for r in self.routes),
        )


def forecast(
    slices: Sequence[CostSlice], facts: Mapping[str, RouteFacts], traffic: Fraction, scenario: Scenario
) -> Forecast | None:
    """The projection of the request log's ``slices``; None when there are none."""
    if not slices:
        return None
    span = Span(min(s.first_ts for s in slices), max(s.last_ts for s in slices))
    month = traffic * DAYS_PER_MONTH / span.days

    def monthly(cost: Fraction) -> int:
        return round(cost * month)  # Fraction rounds half to even, exactly

    by_route: dict[str | None, list[CostSlice]] = {}
    for s in slices:
        by_route.setdefault(s.route, []).append(s)
    notes: list[str] = []
    comparison_notes: list[str] = []
    totals = dict.fromkeys((name for name, _ in COMPARISON), 0)
    routes: list[RouteForecast] = []
    for route, mine in by_route.items():
        known = RouteFacts() if route is None else facts.get(route, RouteFacts())
        observed = Fraction(sum(s.cost_nanos for s in mine))
        # Requests turned away before a route was chosen: no cache or tier applies to them.
        chosen, chosen_notes = window_cost(route, mine, known, Scenario() if route is None else scenario)
        _add_new(notes, chosen_notes)
        for name, other in COMPARISON:
            cost, other_notes = window_cost(route, mine, known, other)
            totals[name] += monthly(cost)
            _add_new(comparison_notes, other_notes)
        requests = sum(s.requests for s in mine)
        routes.append(
            RouteForecast(
                route=route,
                requests=requests,
                requests_per_day=requests / span.days,
                cost_per_day=observed / span.days,
                baseline_nanos=monthly(observed),
                scenario_nanos=monthly(chosen),
            )
        )
    routes.sort(key=lambda r: (-r.baseline_nanos, r.route is None, r.route or ""))
    return Forecast(
        span=span,
        traffic=traffic,
        scenario=scenario,
        routes=tuple(routes),
        comparison=tuple(totals.items()),
        notes=tuple(notes),
        comparison_notes=tuple(comparison_notes),
    )


def _add_new(notes: list[str], more: Sequence[str]) -> None:
    notes.extend(note for note in more if note not in notes)
