"""Rate limits and budgets: admit the request within every applicable limit, settle after the call.

Before the call: one request and the estimated tokens are taken from each rate-limit window (key,
team, route; all or nothing), and the estimated cost is reserved against each hard-stop budget. After
it (for a stream, when it ends): the token windows are corrected to the actual usage, the actual cost
is committed, and budget thresholds newly crossed are sent as alerts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from keel.config.runtime import Route, RuntimeConfig
from keel.core.context import Reply, RequestContext
from keel.cost.compute import cost_of
from keel.cost.estimate import estimate_request_tokens
from keel.cost.money import NANOS_PER_USD, usd_to_nanos
from keel.cost.prices import price_for
from keel.hot.budgets import BudgetExceeded, BudgetLedger, Reservation, budgets_for, format_usd
from keel.hot.config import Budget, RateLimit
from keel.hot.limits import RateLimiter
from keel.monitor.alerts import WebhookNotifier
from keel.pipeline.chain import Handler
from keel.pipeline.cost import ensure_cost

DEFAULT_COMPLETION_TOKENS = 256


class AdmitWithinLimits:
    def __init__(self, limiter: RateLimiter, ledger: BudgetLedger, alerts: WebhookNotifier) -> None:
        self._limiter = limiter
        self._ledger = ledger
        self._alerts = alerts

    async def __call__(self, ctx: RequestContext, call_next: Handler) -> Reply:
        assert ctx.body is not None and ctx.identity is not None
        config = ctx.config
        route = ctx.requested
        scopes = _scopes(ctx, route)
        budgets = budgets_for(
            config.raw.budgets,
            key_id=ctx.identity.key_id,
            team=ctx.identity.team,
            route=route.name if route else None,
        )
        if not scopes and not budgets:
            return await call_next(ctx)
        prompt = estimate_request_tokens(ctx.body)
        completion = _completion_limit(ctx)
        headers: dict[str, str] = {}
        if scopes:
            decision = await self._limiter.admit(scopes, prompt + completion)
            decision.raise_if_refused()
            headers = dict(decision.headers)
        reservation: Reservation | None = None
        try:
            if budgets:
                reservation = await self._reserve(budgets, _estimate_nanos(config, route, prompt, completion))
            reply = await call_next(ctx)
        except BaseException:
            await self._settle(ctx, scopes, prompt + completion, reservation)
            raise
        reply.headers.update(headers)
        if reply.stream is None:
            await self._settle(ctx, scopes, prompt + completion, reservation)
        else:
            reply.stream = self._settle_after(ctx, reply.stream, scopes, prompt + completion, reservation)
        return reply

    async def _reserve(self, budgets: Sequence[Budget], estimate_nanos: int) -> Reservation:
        try:
            return await self._ledger.reserve(budgets, estimate_nanos)
        except BudgetExceeded as refused:
            if refused.exhausted is not None:
                hit = refused.exhausted
                self._alerts.notify(
                    "budget_exhausted",
                    f"budget {hit.budget.name!r} ({hit.budget.describe()}) is exhausted and now refuses requests: "
                    f"{format_usd(hit.spent_nanos)} of {format_usd(hit.limit_nanos)} spent",
                    budget=hit.budget.name,
                    period=hit.period,
                    spent_usd=hit.spent_nanos / NANOS_PER_USD,
                    limit_usd=hit.limit_nanos / NANOS_PER_USD,
                )
            raise

    async def _settle_after(
        self,
        ctx: RequestContext,
        stream: AsyncIterator[bytes],
        scopes: Sequence[tuple[str, RateLimit]],
        estimated: int,
        reservation: Reservation | None,
    ) -> AsyncIterator[bytes]:
        try:
            async for frame in stream:
                yield frame
        finally:
            await self._settle(ctx, scopes, estimated, reservation)

    async def _settle(
        self,
        ctx: RequestContext,
        scopes: Sequence[tuple[str, RateLimit]],
        estimated: int,
        reservation: Reservation | None,
    ) -> None:
        usage = ctx.usage or {}
        actual = usage.get("total_tokens")
        if scopes:
            await self._limiter.settle_tokens(scopes, estimated, actual if isinstance(actual, int) else 0)
        if reservation is None:
            return
        ensure_cost(ctx)
        # The same nano-dollars the request log stores: budgets and spend reports agree exactly.
        nanos = usd_to_nanos(ctx.cost_usd) if ctx.cost_usd is not None else 0
        for crossing in await self._ledger.commit(reservation, nanos):
            budget = crossing.budget
            self._alerts.notify(
                "budget_threshold",
                f"budget {budget.name!r} ({budget.describe()}) passed {crossing.threshold:.0%}: "
                f"{format_usd(crossing.spent_nanos)} of {format_usd(crossing.limit_nanos)} spent",
                budget=budget.name,
                period=crossing.period,
                threshold=crossing.threshold,
                spent_usd=crossing.spent_nanos / NANOS_PER_USD,
                limit_usd=crossing.limit_nanos / NANOS_PER_USD,
            )


def _scopes(ctx: RequestContext, route: Route | None) -> list[tuple[str, RateLimit]]:
    assert ctx.identity is not None
    limits = ctx.config.raw.rate_limits
    scopes: list[tuple[str, RateLimit]] = []
    key_id = ctx.identity.key_id
    if key_id is not None and not ctx.identity.is_admin:
        limit = limits.keys.get(key_id) or limits.default_key
        if limit is not None:
            scopes.append((f"key:{key_id}", limit))
    team = ctx.identity.team
    if team is not None and team in limits.teams:
        scopes.append((f"team:{team}", limits.teams[team]))
    if route is not None and route.config.rate_limit is not None:
        scopes.append((f"route:{route.name}", route.config.rate_limit))
    return scopes


def _completion_limit(ctx: RequestContext) -> int:
    assert ctx.body is not None
    limit = ctx.body.get("max_completion_tokens") or ctx.body.get("max_tokens")
    return limit if isinstance(limit, int) else DEFAULT_COMPLETION_TOKENS


def _estimate_nanos(config: RuntimeConfig, route: Route | None, prompt: int, completion: int) -> int:
    """The most this request is likely to cost: the dearest deployment its route may use."""
    if route is None:
        return 0
    dearest = 0
    for name in (*route.config.pool, *route.config.fallbacks):
        dep = config.deployments[name]
        price = price_for(dep.provider, dep.model, dep.config.price)
        if price is not None:
            dearest = max(dearest, cost_of(price, None, prompt, completion).total_nanos)
    return dearest
