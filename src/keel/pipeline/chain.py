"""Stages and how they are linked: each stage gets the context and the rest of the chain."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from keel.core.context import Reply, RequestContext

Handler = Callable[[RequestContext], Awaitable[Reply]]


class Stage(Protocol):
    async def __call__(self, ctx: RequestContext, call_next: Handler) -> Reply: ...


def build_chain(stages: Sequence[Stage], terminal: Handler) -> Handler:
    """Link stages once (at start-up or reload), outermost first; no per-request allocation."""
    handler = terminal
    for stage in reversed(stages):
        handler = _link(stage, handler)
    return handler


def _link(stage: Stage, call_next: Handler) -> Handler:
    async def run(ctx: RequestContext) -> Reply:
        return await stage(ctx, call_next)

    return run
