"""Choose the route a request's ``model`` names, check the caller may use it, and plan the attempts."""

from __future__ import annotations

import random

from keel.config.runtime import Deployment
from keel.control.kill_switches import KillBoard
from keel.core.context import Reply, RequestContext
from keel.core.errors import NotFound, PermissionDenied, ServiceUnavailable
from keel.pipeline.chain import Handler
from keel.pipeline.kill import refused
from keel.pipeline.plan import make_plan
from keel.routing.health import Health


class ChooseRoute:
    def __init__(self, health: Health, board: KillBoard, rng: random.Random) -> None:
        self._health = health
        self._board = board
        self._rng = rng

    async def __call__(self, ctx: RequestContext, call_next: Handler) -> Reply:
        assert ctx.body is not None and ctx.identity is not None
        model = ctx.body["model"]
        route = ctx.requested
        if route is None:
            raise NotFound(f"The model {model!r} does not exist on this gateway", code="model_not_found", param="model")
        if not ctx.identity.may_use(route.name):
            raise PermissionDenied(f"this API key may not use the model {model!r}", param="model")
        ctx.route = route
        switch = self._board.lookup("route", route.name)
        if switch is not None:
            if switch.action == "refuse":
                raise refused(switch)
            ctx.safe_mode = f"kill switch {switch.switch_id}: {switch.reason}"
        if ctx.safe_mode is not None:
            return await call_next(ctx)

        reasons: list[str] = []
        ctx.plan = make_plan(
            route,
            ctx.config.deployments,
            self._health,
            ctx.body,
            self._sticky_key(ctx),
            self._switched_off,
            self._rng,
            reasons,
            ctx.pool,
        )
        if ctx.plan:
            ctx.deployment = ctx.config.deployments[ctx.plan[0].deployment]
        elif route.config.safe_mode is not None:
            ctx.safe_mode = f"no usable deployment: {'; '.join(reasons)}"
        else:
            raise ServiceUnavailable(f"no deployment of {route.name!r} is usable: {'; '.join(reasons)}")
        return await call_next(ctx)

    def _switched_off(self, dep: Deployment) -> str | None:
        switch = self._board.lookup("deployment", dep.name) or self._board.lookup("provider", dep.provider)
        return switch.describe() if switch is not None else None

    @staticmethod
    def _sticky_key(ctx: RequestContext) -> str | None:
        assert ctx.route is not None and ctx.body is not None
        sticky = ctx.route.config.sticky
        if sticky is None:
            return None
        if sticky.header is not None:
            return ctx.headers.get(sticky.header)
        user = ctx.body.get("user")
        return user if isinstance(user, str) and user else None
