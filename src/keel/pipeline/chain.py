"""Stages and how they are linked: each stage gets the context and the rest of the chain."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Protocol

from keel.core.context import Reply, RequestContext

Handler = Callable[[RequestContext], Awaitable[Reply]]


class Stage(Protocol):
    async def __call__(self, ctx: RequestContext, call_next: Handler) -> Reply: ...


def build_chain(stages: Sequence[Stage], terminal: Handler) -> Handler:
    """Link stages once (at start-up or reload), outermost first.

    Each link is the stage with the rest of the chain bound to it, so a request passes through one
    coroutine per stage and allocates nothing else to move between them.
    """
    handler = terminal
    for stage in reversed(stages):
        handler = partial(stage, call_next=handler)
    return handler
