"""Turning replies and errors into HTTP responses, with Keel's headers on every one."""

from __future__ import annotations

import time
from collections.abc import Mapping

import orjson
from aiohttp import web

from keel.core.context import Reply, RequestContext
from keel.core.errors import InvalidRequest, KeelError

_JSON = "application/json"


def keel_headers(ctx: RequestContext) -> dict[str, str]:
    overhead_ms = max(0.0, (time.perf_counter() - ctx.started - ctx.upstream_s) * 1000)
    return {
        "x-request-id": ctx.request_id,
        "x-keel-route": ctx.route.name if ctx.route else "-",
        "x-keel-deployment": ctx.deployment.name if ctx.deployment else "-",
        "x-keel-overhead-ms": f"{overhead_ms:.3f}",
        "x-keel-config-hash": ctx.config.hash,
    }


def query_limit(query: Mapping[str, str], default: int) -> int:
    """The ``limit`` query parameter, clamped to 1..1000; a 400 naming it when it is not an integer."""
    try:
        return min(1000, max(1, int(query.get("limit", str(default)))))
    except ValueError:
        raise InvalidRequest("'limit' must be an integer", param="limit") from None


def json_response(body: object, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type=_JSON, headers=headers)


def error_response(exc: KeelError, headers: dict[str, str] | None = None) -> web.Response:
    return json_response(exc.to_openai(), exc.status, {**exc.headers, **(headers or {})})


async def send_reply(request: web.Request, ctx: RequestContext, reply: Reply) -> web.StreamResponse:
    if reply.stream is None:
        return json_response(reply.body, reply.status, {**reply.headers, **keel_headers(ctx)})
    response = web.StreamResponse(
        status=reply.status,
        headers={
            "content-type": "text/event-stream",
            "cache-control": "no-cache",
            "x-accel-buffering": "no",
            **reply.headers,
            **keel_headers(ctx),
        },
    )
    stream = reply.stream
    try:
        # The stream is started before anything here can fail: each stage's clean-up (its load-shedding
        # slot, the budget settlement, the request record) is in a ``finally`` of a generator, and closing
        # a generator that never started runs none of them.
        first = await anext(stream, None)
        await response.prepare(request)
        if first is not None:
            await response.write(first)
            async for frame in stream:
                await response.write(frame)
        await response.write_eof()
    except (ConnectionResetError, ConnectionError):
        pass  # the client went away; the stream's own cleanup records it
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    return response
