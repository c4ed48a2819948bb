"""What tiered routing did on a route: which tier served how much, why requests escalated, what it saved.

The saving is measured against serving every request on the strongest tier. That counterfactual is
priced at the strongest tier's first deployment, applied to the tokens each request logged: it
assumes the strong model would have read and written as many tokens as the tier that answered. Cache
hits cost nothing either way and keep their logged cost. Amounts stay in whole nano-dollars; the
re-priced tokens of a route are summed first and priced once (see ``cost.compute``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from keel.config.runtime import Route, RuntimeConfig
from keel.cost.compute import component_nanos
from keel.cost.prices import Price, price_for
from keel.routing.tiering.config import TieringConfig
from keel.store.sql_cost_history import CostSlice


@dataclass(frozen=True, slots=True)
class StrongPrice:
    """The price a tiered route's requests would pay on its strongest tier (None when unknown)."""

    deployment: str
    price: Price | None


def strongest_price(config: RuntimeConfig, tiering: TieringConfig) -> StrongPrice:
    """The price of the strongest tier's first deployment, as the gateway would charge it."""
    name = tiering.strongest.deployments[0]
    deployment = config.deployments.get(name)
    price = None if deployment is None else price_for(deployment.provider, deployment.model, deployment.config.price)
    return StrongPrice(name, price)


def repriced(slice_: CostSlice) -> bool:
    """True for requests a tier answered, the ones that would have gone to the strongest tier instead."""
    return slice_.tier is not None and not slice_.cache_hit


def all_strong_nanos(slices: Sequence[CostSlice], price: Price) -> int:
    """What one route's ``slices`` would have cost with every tier-served request on ``price``."""
    moved = [s for s in slices if repriced(s)]
    kept = sum(s.cost_nanos for s in slices if not repriced(s))
    prompt = sum(s.prompt_tokens for s in moved)
    completion = sum(s.completion_tokens for s in moved)
    return kept + component_nanos(prompt, price.input_per_mtok) + component_nanos(completion, price.output_per_mtok)


def tiered_routes(config: RuntimeConfig, only: str | None) -> list[Route]:
    """The config's tiered routes in config order, or just ``only``; ValueError if it is not one."""
    if only is None:
        return [route for route in config.routes.values() if route.config.tiering is not None]
    route = config.routes.get(only)
    if route is None:
        raise ValueError(f"no route named {only!r} in the config")
    if route.config.tiering is None:
        raise ValueError(f"route {only!r} has no tiers")
    return [route]


# The request log joins the reasons of a request that escalated more than once, lowest tier first.
_REASON_SEPARATOR = "; "


def escalation_reasons(escalation: str | None) -> list[str]:
    """Each step of a logged escalation: ``cheap: refusal; mid: empty`` is two."""
    return [] if escalation is None else [reason for reason in escalation.split(_REASON_SEPARATOR) if reason]


@dataclass(frozen=True, slots=True)
class TierLine:
    """The requests one tier served; ``tier`` None for those no tier answered (cache hits, early failures)."""

    tier: str | None
    requests: int
    cost_nanos: int


@dataclass(frozen=True, slots=True)
class TierReport:
    """One tiered route over a window of the request log."""

    route: str
    lines: tuple[TierLine, ...]
    """The configured tiers cheapest first, then tiers the config no longer names, then no tier."""
    escalated: int
    """Requests a lower tier's answer was not served for."""
    escalations: tuple[tuple[str, int], ...]
    """Escalations per reason (``cheap: refusal``), most frequent first; a request that climbed two
    tiers counts once under each of its two reasons."""
    strong: StrongPrice
    all_strong_nanos: int | None
    """None when the strongest tier has no price."""

    @property
    def requests(self) -> int:
        return sum(line.requests for line in self.lines)

    @property
    def cost_nanos(self) -> int:
        return sum(line.cost_nanos for line in self.lines)

    def request_share(self, line: TierLine) -> Fraction | None:
        return Fraction(line.requests, self.requests) if self.requests else None

    def cost_share(self, line: TierLine) -> Fraction | None:
        return Fraction(line.cost_nanos, self.cost_nanos) if self.cost_nanos else None

    @property
    def saving_nanos(self) -> int | None:
        return None if self.all_strong_nanos is None else self.all_strong_nanos - self.cost_nanos

    @property
    def saving_share(self) -> Fraction | None:
        """The saving as a part of the all-strong cost."""
        if self.saving_nanos is None or not self.all_strong_nanos:
            return None
        return Fraction(self.saving_nanos, self.all_strong_nanos)


def tier_report(config: RuntimeConfig, route: Route, slices: Sequence[CostSlice]) -> TierReport:
    """The report for one of ``config``'s tiered routes from slices of the request log."""
    tiering = route.config.tiering
    if tiering is None:
        raise ValueError(f"route {route.name!r} has no tiers")
    strong = strongest_price(config, tiering)
    mine = [s for s in slices if s.route == route.name]
    configured = [tier.name for tier in tiering.tiers]
    seen = sorted({s.tier for s in mine if s.tier is not None and s.tier not in configured})
    names: list[str | None] = [*configured, *seen]
    if any(s.tier is None for s in mine):
        names.append(None)
    lines = tuple(
        TierLine(
            tier=name,
            requests=sum(s.requests for s in mine if s.tier == name),
            cost_nanos=sum(s.cost_nanos for s in mine if s.tier == name),
        )
        for name in names
    )
    reasons: dict[str, int] = {}
    for s in mine:
        for reason in escalation_reasons(s.escalation):
            reasons[reason] = reasons.get(reason, 0) + s.requests
    escalations = tuple(sorted(reasons.items(), key=lambda item: (-item[1], item[0])))
    return TierReport(
        route=route.name,
        lines=lines,
        escalated=sum(s.requests for s in mine if s.escalation is not None),
        escalations=escalations,
        strong=strong,
        all_strong_nanos=None if strong.price is None else all_strong_nanos(mine, strong.price),
    )
