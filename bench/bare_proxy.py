"""The bare pass-through: the least a Python gateway can do per request.

One aiohttp server, one pooled aiohttp ClientSession. POST /v1/chat/completions is forwarded byte for
byte to the upstream and the answer is streamed back chunk by chunk as it arrives. No parsing, no auth,
no logging, no metrics. Usage: python bare_proxy.py UPSTREAM_BASE PORT
"""

import asyncio
import sys
from collections.abc import AsyncIterator

from aiohttp import ClientSession, TCPConnector, web

UPSTREAM, PORT = sys.argv[1].rstrip("/"), int(sys.argv[2])
FORWARDED = ("Content-Type", "Authorization")


async def chat(request: web.Request) -> web.StreamResponse:
    body = await request.read()
    headers = {h: request.headers[h] for h in FORWARDED if h in request.headers}
    async with request.app["session"].post(UPSTREAM + "/chat/completions", data=body, headers=headers) as up:
        response = web.StreamResponse(status=up.status, headers={"Content-Type": up.content_type})
        await response.prepare(request)
        async for chunk in up.content.iter_any():
            await response.write(chunk)
        await response.write_eof()
        return response


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def session(app: web.Application) -> AsyncIterator[None]:
    app["session"] = ClientSession(connector=TCPConnector(limit=0, ttl_dns_cache=None), auto_decompress=False)
    yield
    await app["session"].close()


if __name__ == "__main__":
    try:
        import uvloop
    except ImportError:
        loop = asyncio.new_event_loop()
    else:
        loop = uvloop.new_event_loop()
    app = web.Application()
    app.cleanup_ctx.append(session)
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=PORT, access_log=None, print=None, loop=loop)
