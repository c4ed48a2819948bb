"""Call the chosen deployment: the terminal handler of the chat and embeddings pipelines.

Time spent waiting on the upstream is added to ``ctx.upstream_s`` so Keel's own overhead can be
reported without it. A stream is held until its first chunk arrives, so that an upstream failing
before its first byte still gets a normal error response (and, with failover, another deployment).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any, NoReturn

from keel.core.context import Json, Reply, RequestContext
from keel.core.errors import KeelError, UpstreamBadResponse, UpstreamTimeout
from keel.providers.base import Provider
from keel.providers.sse import DONE_FRAME, encode_chunk, encode_error
from keel.store.records import AttemptRecord


class CallUpstream:
    def __init__(self, providers: Mapping[str, Provider]) -> None:
        self._providers = providers

    async def __call__(self, ctx: RequestContext) -> Reply:
        assert ctx.deployment is not None and ctx.body is not None
        deployment = ctx.deployment
        provider = self._providers[deployment.name]
        started = time.perf_counter()
        try:
            async with asyncio.timeout(deployment.timeout_s):
                if ctx.endpoint == "embeddings":
                    body = await provider.embeddings(ctx.body)
                    return self._done(ctx, started, body)
                if not ctx.stream:
                    return self._done(ctx, started, await provider.chat(ctx.body))
                batches = provider.chat_stream(_with_usage(ctx.body)).__aiter__()
                first = await batches.__anext__()
        except StopAsyncIteration:
            self._failed(ctx, started, UpstreamBadResponse("upstream stream ended before its first chunk"))
        except TimeoutError:
            self._failed(ctx, started, UpstreamTimeout(f"upstream took longer than {deployment.timeout_s}s"))
        except KeelError as exc:
            self._failed(ctx, started, exc)
        ctx.ttft_s = time.perf_counter() - ctx.started
        ctx.upstream_s += time.perf_counter() - started
        self._attempt(ctx, started, 200, None)
        return Reply(stream=_relay(ctx, first, batches), headers=_provider_headers(first[0]))

    def _done(self, ctx: RequestContext, started: float, body: Json) -> Reply:
        ctx.upstream_s += time.perf_counter() - started
        self._attempt(ctx, started, 200, None)
        ctx.usage = body.get("usage")
        ctx.model = body.get("model")
        return Reply(body=body, headers=_provider_headers(body))

    def _failed(self, ctx: RequestContext, started: float, exc: KeelError) -> NoReturn:
        ctx.upstream_s += time.perf_counter() - started
        self._attempt(ctx, started, exc.status, exc.error_class)
        raise exc

    @staticmethod
    def _attempt(ctx: RequestContext, started: float, status: int, error_class: str | None) -> None:
        assert ctx.deployment is not None
        ctx.attempts.append(
            AttemptRecord(
                deployment=ctx.deployment.name,
                provider=ctx.deployment.provider,
                status=status,
                error_class=error_class,
                latency_ms=(time.perf_counter() - started) * 1000,
            )
        )


def _provider_headers(payload: Json) -> dict[str, str]:
    """Keel's own annotations of an answer (``keel.confidence`` from the FAQ provider) as headers."""
    meta = payload.get("keel")
    if isinstance(meta, dict) and isinstance(meta.get("confidence"), int | float):
        return {"x-keel-confidence": f"{meta['confidence']:.4f}"}
    return {}


def _with_usage(body: Json) -> Json:
    """Always ask for usage so every stream can be counted; the relay hides it if not asked for."""
    options: dict[str, Any] = body.get("stream_options") or {}
    if options.get("include_usage"):
        return body
    return {**body, "stream_options": {**options, "include_usage": True}}


async def _relay(ctx: RequestContext, first: list[Json], batches: AsyncIterator[list[Json]]) -> AsyncIterator[bytes]:
    """SSE frames for the client, one write per batch. After bytes are out, a failure ends the
    stream with an error event in OpenAI's shape: never a clean end after a cut."""
    batch: list[Json] | None = first
    ctx.status = 200
    ctx.model = first[0].get("model")
    while batch is not None:
        frames = []
        for chunk in batch:
            usage = chunk.get("usage")
            if usage:
                ctx.usage = usage
                if not chunk.get("choices") and not ctx.client_wants_usage:
                    continue  # asked for on the client's behalf, for accounting only
            frames.append(encode_chunk(chunk))
        started = time.perf_counter()
        try:
            batch = await batches.__anext__()
        except StopAsyncIteration:
            batch = None
            frames.append(DONE_FRAME)
        except KeelError as exc:
            ctx.status, ctx.error_class, ctx.error_code = exc.status, exc.error_class, exc.code
            frames.append(encode_error(exc.to_openai()))
            ctx.upstream_s += time.perf_counter() - started
            yield b"".join(frames)
            return
        ctx.upstream_s += time.perf_counter() - started
        if frames:
            yield b"".join(frames)
