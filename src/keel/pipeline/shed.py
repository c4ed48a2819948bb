"""Load shedding as the first stage after recording: over the cap, a fast 503 with Retry-After.

A slot is held for the whole request, a stream included, and released however it ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from keel.control.admission import Admission
from keel.core.context import Reply, RequestContext
from keel.core.errors import ServiceUnavailable
from keel.monitor.metrics import Metrics
from keel.pipeline.chain import Handler


class ShedLoad:
    def __init__(self, admission: Admission, metrics: Metrics) -> None:
        self._admission = admission
        self._metrics = metrics

    async def __call__(self, ctx: RequestContext, call_next: Handler) -> Reply:
        admission = self._admission
        if not await admission.enter():
            self._metrics.child(self._metrics.shed, "overloaded").inc()
            retry_after = str(admission.config.retry_after_s)
            raise ServiceUnavailable(
                "the gateway is overloaded; retry shortly", code="overloaded", headers={"retry-after": retry_after}
            )
        try:
            reply = await call_next(ctx)
        except BaseException:
            admission.leave()
            raise
        if reply.stream is None:
            admission.leave()
        else:
            reply.stream = self._leave_after(reply.stream)
        return reply

    async def _leave_after(self, stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        try:
            async for frame in stream:
                yield frame
        finally:
            self._admission.leave()
