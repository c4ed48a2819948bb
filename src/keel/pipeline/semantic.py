"""The semantic cache in the request path: a prompt close to one answered before on the route gets that answer.

Runs after the exact cache (an identical request is cheaper to find) for routes with ``semantic_cache``.
The last user turn is embedded once; everything else the answer depends on — model, parameters, system
prompt, earlier turns, numbers — must match exactly (``semantic_key``). A hit is replayed like an exact
one, marked ``x-keel-cache: semantic-hit`` with ``x-keel-cache-similarity``, and logged as
``semantic_hit``; after a miss, a complete successful answer is stored under the vector already computed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from keel.cache.semantic import SemanticCache, recommended_threshold, semantic_key
from keel.cache.semantic.cache import PromptVector
from keel.core.context import Reply, RequestContext
from keel.pipeline.cache import bypass, cached_answer, replay
from keel.pipeline.chain import Handler


class SemanticCacheStage:
    def __init__(self, cache: SemanticCache) -> None:
        self._cache = cache
        self._default_threshold = recommended_threshold(cache.embedder)

    async def __call__(self, ctx: RequestContext, call_next: Handler) -> Reply:
        assert ctx.body is not None
        route = ctx.requested
        config = route.config.semantic_cache if route is not None else None
        if route is None or config is None or ctx.endpoint != "chat.completions" or ctx.cache == "hit":
            return await call_next(ctx)
        threshold = config.threshold or self._default_threshold
        key = semantic_key(route.name, None, ctx.body)
        if key is None or threshold is None or bypass(ctx):
            return await call_next(ctx)
        query = await self._cache.embed(key.text)
        if query is None:
            return await call_next(ctx)
        hit = await self._cache.lookup(key.partition, query, threshold)
        if hit is not None:
            ctx.route, ctx.cache, ctx.model, ctx.status, ctx.cost_usd = (
                route,
                "semantic_hit",
                hit.answer.model,
                200,
                0.0,
            )
            headers = {"x-keel-cache": "semantic-hit", "x-keel-cache-similarity": f"{hit.similarity:.4f}"}
            return replay(ctx, hit.answer, headers)
        reply = await call_next(ctx)
        if reply.stream is None:
            if reply.status == 200 and reply.body is not None:
                answer = cached_answer(body=reply.body)
                await self._cache.put(key.partition, query, answer, config.ttl_s, config.max_entry_bytes)
            return reply
        if ctx.stream_chunks is None:
            ctx.stream_chunks = []
        reply.stream = self._store_after(ctx, reply.stream, key.partition, query, config.ttl_s, config.max_entry_bytes)
        return reply

    async def _store_after(
        self,
        ctx: RequestContext,
        stream: AsyncIterator[bytes],
        partition: str,
        query: PromptVector,
        ttl_s: float,
        max_bytes: int,
    ) -> AsyncIterator[bytes]:
        async for frame in stream:
            yield frame
        if ctx.error_class is None and ctx.stream_chunks:
            await self._cache.put(partition, query, cached_answer(chunks=ctx.stream_chunks), ttl_s, max_bytes)
