"""A codec joined to the shared HTTP client: the provider for every remote upstream.

Transport failures are translated here, once: connection problems, resets and timeouts become
``UpstreamConnectionError`` / ``UpstreamTimeout``; non-2xx answers go to the codec's
``classify_error``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp

from keel.config.resilience import Timeouts
from keel.core.errors import KeelError, UpstreamConnectionError, UpstreamTimeout
from keel.providers.base import Codec, HttpCall, Json, Target
from keel.providers.sse import SseParser


def new_client_session() -> aiohttp.ClientSession:
    """The one pooled client per process; every HTTP provider shares it."""
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, keepalive_timeout=60, ttl_dns_cache=300)
    return aiohttp.ClientSession(
        connector=connector,
        json_serialize=None,  # type: ignore[arg-type]  # bodies are pre-encoded bytes
        auto_decompress=True,
        skip_auto_headers=("User-Agent",),
    )


class HttpProvider:
    def __init__(
        self,
        codec: Codec,
        target: Target,
        session: aiohttp.ClientSession,
        *,
        timeouts: Timeouts,
    ) -> None:
        self.codec = codec
        self.target = target
        self._session = session
        # The pipeline enforces first-token, idle and total deadlines (with the route's overrides);
        # the client only bounds connecting.
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeouts.connect_s)

    async def chat(self, body: Json) -> Json:
        call = self.codec.chat_request(body, self.target, stream=False)
        payload = await self._send(call)
        return self.codec.chat_response(payload, self.target)

    async def chat_stream(self, body: Json) -> AsyncIterator[list[Json]]:
        call = self.codec.chat_request(body, self.target, stream=True)
        decoder = self.codec.stream_decoder(body, self.target)
        parser = SseParser()
        try:
            async with self._session.request(
                call.method, call.url, data=call.body, headers=call.headers, timeout=self._timeout
            ) as resp:
                if resp.status >= 300:
                    raise self.codec.classify_error(resp.status, resp.headers, await resp.read())
                async for data in resp.content.iter_any():
                    batch: list[Json] = []
                    for event in parser.feed(data):
                        batch.extend(decoder.feed(event))
                        if decoder.done:
                            break
                    if batch:
                        yield batch
                    if decoder.done:
                        return
                batch = [chunk for event in parser.close() for chunk in decoder.feed(event)]
                if batch:
                    yield batch
                if decoder.done:
                    return
        except KeelError:
            raise
        except TimeoutError:
            raise UpstreamTimeout(f"upstream {self.target.api_base} timed out") from None
        except aiohttp.ClientError as exc:
            raise UpstreamConnectionError(f"upstream connection failed: {_describe(exc)}") from None
        raise UpstreamConnectionError("upstream stream ended before it was complete")

    async def embeddings(self, body: Json) -> Json:
        call = self.codec.embeddings_request(body, self.target)
        payload = await self._send(call)
        return self.codec.embeddings_response(payload, self.target)

    async def aclose(self) -> None:
        """The shared session is closed by its owner, not by each provider."""

    async def _send(self, call: HttpCall) -> bytes:
        try:
            async with self._session.request(
                call.method, call.url, data=call.body, headers=call.headers, timeout=self._timeout
            ) as resp:
                payload = await resp.read()
                if resp.status >= 300:
                    raise self.codec.classify_error(resp.status, resp.headers, payload)
                return payload
        except KeelError:
            raise
        except TimeoutError:
            raise UpstreamTimeout(f"upstream {self.target.api_base} timed out") from None
        except aiohttp.ClientError as exc:
            raise UpstreamConnectionError(f"upstream connection failed: {_describe(exc)}") from None


def _describe(exc: aiohttp.ClientError) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
