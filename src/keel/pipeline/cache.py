"""The exact cache: a repeated request to a route that opts in is answered without an upstream call.

The key is canonical (see ``cache/key.py``); a hit is served in the form the client asked for — a
cached stream replays as a stream, a cached body answers a streaming request as chunks — marked with
``x-keel-cache: hit`` and in the request log. ``x-keel-cache: bypass`` (or ``cache-control:
no-cache``) skips the lookup. Only complete, successful answers are stored.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from keel.cache.key import cache_key, cacheable
from keel.cache.replay import as_body, as_chunks
from keel.cache.store import CachedAnswer, ResponseCache
from keel.core.context import Json, Reply, RequestContext
from keel.pipeline.chain import Handler
from keel.providers.sse import DONE_FRAME, encode_chunk


class ExactCache:
    def __init__(self, cache: ResponseCache) -> None:
        self._cache = cache

    async def __call__(self, ctx: RequestContext, call_next: Handler) -> Reply:
        assert ctx.body is not None
        route = ctx.requested
        config = route.config.cache if route is not None else None
        if route is None or config is None or ctx.endpoint != "chat.completions" or not cacheable(ctx.body, config):
            return await call_next(ctx)
        if bypass(ctx):
            ctx.cache = "bypass"
            reply = await call_next(ctx)
            reply.headers["x-keel-cache"] = "bypass"
            return reply
        key = cache_key(route.name, None, ctx.body)
        hit = await self._cache.get(key)
        if hit is not None:
            ctx.route, ctx.cache, ctx.model, ctx.status, ctx.cost_usd = route, "hit", hit.model, 200, 0.0
            return replay(ctx, hit, {"x-keel-cache": "hit"})
        ctx.cache = "miss"
        reply = await call_next(ctx)
        reply.headers["x-keel-cache"] = "miss"
        if reply.stream is None:
            if reply.status == 200 and reply.body is not None:
                await self._cache.put(
                    key, cached_answer(body=reply.body), config.ttl_s, max_bytes=config.max_entry_bytes
                )
            return reply
        ctx.stream_chunks = []
        reply.stream = self._store_after(ctx, reply.stream, key, config.ttl_s, config.max_entry_bytes)
        return reply

    async def _store_after(
        self, ctx: RequestContext, stream: AsyncIterator[bytes], key: str, ttl_s: float, max_bytes: int
    ) -> AsyncIterator[bytes]:
        async for frame in stream:
            yield frame
        if ctx.error_class is None and ctx.stream_chunks:
            await self._cache.put(key, cached_answer(chunks=ctx.stream_chunks), ttl_s, max_bytes=max_bytes)


def bypass(ctx: RequestContext) -> bool:
    return ctx.headers.get("x-keel-cache") == "bypass" or "no-cache" in ctx.headers.get("cache-control", "")


def cached_answer(*, body: Json | None = None, chunks: list[Json] | None = None) -> CachedAnswer:
    model = (body or (chunks[0] if chunks else {})).get("model")
    return CachedAnswer(body=body, chunks=chunks, created_at=time.time(), model=model)


def replay(ctx: RequestContext, hit: CachedAnswer, headers: dict[str, str]) -> Reply:
    """A cached answer in the form the client asked for: a body, or a stream replayed from it."""
    if not ctx.stream:
        body = hit.body if hit.body is not None else as_body(hit.chunks or [])
        ctx.usage = body.get("usage")
        return Reply(body=body, headers=headers)
    chunks = hit.chunks if hit.chunks is not None else as_chunks(hit.body or {}, include_usage=True)
    frames = [encode_chunk(c) for c in chunks if c.get("choices") or ctx.client_wants_usage]

    async def frames_out() -> AsyncIterator[bytes]:
        yield b"".join(frames) + DONE_FRAME

    return Reply(stream=frames_out(), headers=headers)
