"""Kill switches on everything or on the caller's key, checked right after authentication."""

from __future__ import annotations

from keel.control.kill_switches import KillBoard, KillSwitch
from keel.core.context import Reply, RequestContext
from keel.core.errors import ServiceUnavailable
from keel.pipeline.chain import Handler


def refused(switch: KillSwitch) -> ServiceUnavailable:
    return ServiceUnavailable(switch.describe(), code="kill_switch")


class CheckKillSwitches:
    def __init__(self, board: KillBoard) -> None:
        self._board = board

    async def __call__(self, ctx: RequestContext, call_next: Handler) -> Reply:
        assert ctx.identity is not None
        switch = self._board.for_request(ctx.identity.key_id)
        if switch is not None:
            if switch.action == "refuse":
                raise refused(switch)
            ctx.safe_mode = f"kill switch {switch.switch_id}: {switch.reason}"
        return await call_next(ctx)
