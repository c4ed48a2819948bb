"""What a request cost: the deployment's price (its override, else the catalogue) times its usage.

Without usage from the upstream the counts are estimated offline and the cost is marked estimated.
"""

from __future__ import annotations

from keel.core.context import RequestContext
from keel.cost.compute import Cost, cost_of
from keel.cost.estimate import estimate_request_tokens
from keel.cost.money import NANOS_PER_USD, usd_to_nanos
from keel.cost.prices import price_for

CHARS_PER_TOKEN = 4  # for a streamed answer without usage, estimated from its length


def request_cost(ctx: RequestContext) -> Cost | None:
    """The cost of what the answering deployment did, or None when nothing was called or priced."""
    dep = ctx.deployment
    if dep is None or ctx.body is None or not any(a.status == 200 for a in ctx.attempts):
        return None
    price = price_for(dep.provider, ctx.model or dep.model, dep.config.price)
    if price is None:
        return None
    usage = ctx.usage
    if usage is None:
        return cost_of(price, None, estimate_request_tokens(ctx.body), ctx.completion_chars // CHARS_PER_TOKEN)
    return cost_of(price, usage, 0, 0)


def discard_answer(ctx: RequestContext) -> None:
    """Before asking again (a higher tier, a retry, a fallback): keep what the discarded answer cost as
    ``prior_cost_nanos`` and forget its usage, model, deployment and plan; its attempts stay in the log."""
    ensure_cost(ctx)
    if ctx.cost_usd is not None:
        ctx.prior_cost_nanos = usd_to_nanos(ctx.cost_usd)
    ctx.cost_usd, ctx.cost_estimated, ctx.usage, ctx.model = None, False, None, None
    ctx.deployment, ctx.plan, ctx.completion_chars = None, [], 0


def ensure_cost(ctx: RequestContext) -> None:
    """Price the request once, whichever stage needs the figure first (lower tiers' answers included)."""
    if ctx.cost_usd is not None:
        return
    cost = request_cost(ctx)
    if cost is None and not ctx.prior_cost_nanos:
        return
    nanos = ctx.prior_cost_nanos + (cost.total_nanos if cost is not None else 0)
    ctx.cost_usd = nanos / NANOS_PER_USD
    ctx.cost_estimated = cost is not None and cost.estimated
