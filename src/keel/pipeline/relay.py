"""Relay a stream to the client once its first chunk is in.

Frames go out one write per batch. A stream that stalls longer than the idle deadline, runs past the
total deadline, or is cut by the upstream ends with an explicit error event in OpenAI's shape — never
a clean end after a cut. The attempt is booked when the stream ends, however it ends.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from keel.core.context import Json, RequestContext
from keel.core.errors import KeelError, UpstreamTimeout
from keel.pipeline.call import Answer
from keel.providers.sse import DONE_FRAME, encode_chunk, encode_error


async def relay(ctx: RequestContext, answer: Answer, deadline: float) -> AsyncIterator[bytes]:
    assert answer.first is not None and answer.batches is not None
    batches = answer.batches
    idle_s = answer.timeouts.idle_s
    batch: list[Json] | None = answer.first
    ctx.status = 200
    ctx.model = answer.first[0].get("model")
    error: KeelError | None = None
    finished = False
    try:
        while batch is not None:
            frames = _frames(ctx, batch)
            started = time.perf_counter()
            try:
                async with asyncio.timeout(max(0.0, min(idle_s, deadline - started))):
                    batch = await batches.__anext__()
            except StopAsyncIteration:
                batch = None
                frames.append(DONE_FRAME)
            except TimeoutError:
                past_total = time.perf_counter() >= deadline
                error = UpstreamTimeout(
                    f"{answer.deployment.name}: the stream ran past its total deadline"
                    if past_total
                    else f"{answer.deployment.name}: the stream stalled for {idle_s}s"
                )
            except KeelError as exc:
                error = exc
            ctx.upstream_s += time.perf_counter() - started
            if error is not None:
                ctx.status, ctx.error_class, ctx.error_code = error.status, error.error_class, error.code
                frames.append(encode_error(error.to_openai()))
                yield b"".join(frames)
                return
            if frames:
                yield b"".join(frames)
        finished = True
    finally:
        if not finished and error is None:  # the client went away: stop reading the upstream
            await batches.aclose()  # type: ignore[attr-defined]
            answer.finish(ctx, None, cancelled=True)
        elif error is not None:
            await batches.aclose()  # type: ignore[attr-defined]
            answer.finish(ctx, error)
        else:
            answer.finish(ctx, None)


def _frames(ctx: RequestContext, batch: list[Json]) -> list[bytes]:
    frames = []
    if ctx.stream_chunks is not None:
        ctx.stream_chunks.extend(batch)
    for chunk in batch:
        for choice in chunk.get("choices") or ():
            content = (choice.get("delta") or {}).get("content")
            if content:
                ctx.completion_chars += len(content)
        usage = chunk.get("usage")
        if usage:
            ctx.usage = usage
            if not chunk.get("choices") and not ctx.client_wants_usage:
                continue  # asked for on the client's behalf, for accounting only
        frames.append(encode_chunk(chunk))
    return frames
