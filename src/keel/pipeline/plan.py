"""The order in which a request's deployments are tried.

pool ordered by the route's strategy (or by the sticky key)
→ provisioned deployments with room first, the rest spill over to pay-as-you-go
→ the route's fallbacks (other providers, other regions)
with deployments that are disabled or switched off left out, and a prompt too long for the
first deployment sent to the route's context-window fallback instead.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping

from keel.config.runtime import Deployment, Route
from keel.core.context import Json, PlanStep
from keel.cost.estimate import estimate_request_tokens, estimate_total_tokens
from keel.routing.balance import Candidate, order
from keel.routing.capacity import spillover_order
from keel.routing.health import Health

Excluded = Callable[[Deployment], str | None]


def make_plan(
    route: Route,
    deployments: Mapping[str, Deployment],
    health: Health,
    body: Json,
    sticky_key: str | None,
    excluded: Excluded,
    rng: random.Random,
    reasons: list[str],
    pool: tuple[str, ...] | None = None,
) -> list[PlanStep]:
    """Ordered steps; ``reasons`` collects why deployments were left out (for an honest error).

    ``pool`` replaces the route's own (a tiered route plans over the tier serving the request).
    """
    config = route.config

    def usable(name: str) -> bool:
        dep = deployments[name]
        why = dep.disabled or excluded(dep)
        if why:
            reasons.append(why)
        return why is None

    candidates = [n for n in (config.pool if pool is None else pool) if usable(n)]
    if (config.strategy == "priority" and sticky_key is None) or len(candidates) < 2:
        ordered = candidates  # nothing to weigh: skip building candidates on the hot path
    else:
        cands = [
            Candidate(n, deployments[n].config.weight, health.in_flight.get(n, 0), health.latency.ewma(n))
            for n in candidates
        ]
        ordered = order(config.strategy, cands, [rng.random() for _ in cands], sticky_key)
    first_kind = "primary"
    if any(health.provisioned(n) for n in ordered):
        tokens = estimate_total_tokens(body)
        spilled = spillover_order(ordered, health.provisioned, lambda n: health.capacity.has_room(n, tokens))
        if spilled[0] != ordered[0]:
            first_kind = "spillover"  # the preferred provisioned deployment is full
        ordered = spilled
    steps = [PlanStep(n, first_kind if i == 0 else "failover") for i, n in enumerate(ordered)]
    seen = {s.deployment for s in steps}
    for name in config.fallbacks:
        if name not in seen and usable(name):
            steps.append(PlanStep(name, "failover"))
            seen.add(name)
    return _fit_context(steps, route, deployments, body, usable)


def _fit_context(
    steps: list[PlanStep],
    route: Route,
    deployments: Mapping[str, Deployment],
    body: Json,
    usable: Callable[[str], bool],
) -> list[PlanStep]:
    windows = [deployments[s.deployment].config.context_window for s in steps]
    if all(w is None for w in windows) and route.config.context_window_fallback is None:
        return steps
    tokens = estimate_request_tokens(body)
    fits = [s for s, w in zip(steps, windows, strict=True) if w is None or tokens <= w]
    fallback = route.config.context_window_fallback
    if fallback and (not fits or fits[0] != steps[0]) and usable(fallback):
        window = deployments[fallback].config.context_window
        if window is None or tokens <= window:
            return [PlanStep(fallback, "fallback"), *(s for s in fits if s.deployment != fallback)]
    return fits
