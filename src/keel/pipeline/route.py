"""Choose the route a request's ``model`` names, check the caller may use it, pick a deployment."""

from __future__ import annotations

from keel.core.context import Reply, RequestContext
from keel.core.errors import NotFound, PermissionDenied, ServiceUnavailable
from keel.pipeline.chain import Handler


class ChooseRoute:
    async def __call__(self, ctx: RequestContext, call_next: Handler) -> Reply:
        assert ctx.body is not None and ctx.identity is not None
        model = ctx.body["model"]
        route = ctx.config.route_for(model)
        if route is None:
            raise NotFound(f"The model {model!r} does not exist on this gateway", code="model_not_found", param="model")
        if not ctx.identity.may_use(route.name):
            raise PermissionDenied(f"this API key may not use the model {model!r}", param="model")
        ctx.route = route
        reasons = []
        for name in route.deployments:
            deployment = ctx.config.deployments[name]
            if deployment.disabled is None:
                ctx.deployment = deployment
                return await call_next(ctx)
            reasons.append(deployment.disabled)
        raise ServiceUnavailable(f"no deployment of {route.name!r} is usable: {'; '.join(reasons)}")
