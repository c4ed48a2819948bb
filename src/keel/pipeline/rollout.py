"""Send a share of a route's chat requests to the candidate of its canary rollout.

The side is a pure function of the rollout and the caller's sticky key (see ``keel.rollout.assign``),
so a caller stays on one side in every process and only moves to the candidate as its weight grows.
A candidate request is planned over the candidate alone; a live one over the route's own pool. Both
are tagged with the rollout and the side, which the request log keeps for the rollout's analysis.

Only the route's latest rollout of the candidate its config names counts, and only while its weight
is above zero: a pending rollout has moved no traffic yet, a rolled back or aborted one sends
everything back to live, and a promoted one keeps the candidate on all of the route's traffic.
"""

from __future__ import annotations

from keel.core.context import Reply, RequestContext
from keel.pipeline.chain import Handler
from keel.rollout.assign import assign, sticky_key
from keel.rollout.board import RolloutBoard


class AssignRollout:
    def __init__(self, board: RolloutBoard) -> None:
        self._board = board

    async def __call__(self, ctx: RequestContext, call_next: Handler) -> Reply:
        if ctx.endpoint == "chat.completions":
            self._assign(ctx)
        return await call_next(ctx)

    def _assign(self, ctx: RequestContext) -> None:
        assert ctx.body is not None
        route = ctx.requested
        config = route.config.rollout if route is not None else None
        if route is None or config is None:
            return
        state = self._board.for_route(route.name)
        if state is None or state.weight <= 0 or state.candidate != config.candidate:
            return
        side = assign(state, sticky_key(config, ctx.body.get("user"), ctx.headers), ctx.request_id)
        ctx.rollout_id, ctx.rollout_side = state.rollout_id, side
        if side == "candidate":
            ctx.pool = (state.candidate,)
