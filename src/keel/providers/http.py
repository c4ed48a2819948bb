"""A codec joined to the shared upstream HTTP client: the provider for every remote upstream.

Transport failures are translated here, once: connection problems, resets and malformed answers become
``UpstreamConnectionError``, a connect timeout ``UpstreamTimeout``; non-2xx answers go to the codec's
``classify_error``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from keel.config.resilience import Timeouts
from keel.core.errors import KeelError, UpstreamConnectionError, UpstreamTimeout
from keel.providers.base import Codec, HttpCall, Json, Target
from keel.providers.sse import SseParser
from keel.providers.transport import HttpClient, TransportError


class HttpProvider:
    def __init__(
        self,
        codec: Codec,
        target: Target,
        client: HttpClient,
        *,
        timeouts: Timeouts,
    ) -> None:
        self.codec = codec
        self.target = target
        self._client = client
        # The pipeline enforces first-token, idle and total deadlines (with the route's overrides);
        # the client only bounds connecting.
        self._connect_s = timeouts.connect_s

    async def chat(self, body: Json) -> Json:
        call = self.codec.chat_request(body, self.target, stream=False)
        payload = await self._send(call)
        return self.codec.chat_response(payload, self.target)

    async def chat_stream(self, body: Json) -> AsyncIterator[list[Json]]:
        call = self.codec.chat_request(body, self.target, stream=True)
        decoder = self.codec.stream_decoder(body, self.target)
        parser = SseParser()
        try:
            async with self._client.request(
                call.method, call.url, call.headers, call.body, connect_timeout_s=self._connect_s
            ) as resp:
                if resp.status >= 300:
                    raise self.codec.classify_error(resp.status, resp.headers, await resp.read())
                async for data in resp.iter_chunks():
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
        except TransportError as exc:
            raise UpstreamConnectionError(f"upstream connection failed: {exc}") from None
        raise UpstreamConnectionError("upstream stream ended before it was complete")

    async def embeddings(self, body: Json) -> Json:
        call = self.codec.embeddings_request(body, self.target)
        payload = await self._send(call)
        return self.codec.embeddings_response(payload, self.target)

    async def aclose(self) -> None:
        """The shared client is closed by its owner, not by each provider."""

    async def _send(self, call: HttpCall) -> bytes:
        try:
            async with self._client.request(
                call.method, call.url, call.headers, call.body, connect_timeout_s=self._connect_s
            ) as resp:
                payload = await resp.read()
                if resp.status >= 300:
                    raise self.codec.classify_error(resp.status, resp.headers, payload)
                return payload
        except KeelError:
            raise
        except TimeoutError:
            raise UpstreamTimeout(f"upstream {self.target.api_base} timed out") from None
        except TransportError as exc:
            raise UpstreamConnectionError(f"upstream connection failed: {exc}") from None
