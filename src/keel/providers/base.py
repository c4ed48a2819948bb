"""The interfaces every provider implements.

A *codec* is pure: it turns an OpenAI-shaped request into the upstream's HTTP call, the upstream's
answer back into OpenAI shapes, and an upstream failure into Keel's error tree. It never does I/O.
``HttpProvider`` (``providers/http.py``) joins a codec to the shared HTTP client. Built-in upstreams
(the FAQ and the in-process simulator) implement ``Provider`` directly.

All dicts here are OpenAI wire shapes: a chat request body as the client sent it (validated), a
``chat.completion`` object, ``chat.completion.chunk`` objects, an embeddings list.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from keel.core.errors import KeelError

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Target:
    """Where and as whom a codec calls: resolved from a deployment and its vendor catalogue entry."""

    api_base: str
    model: str
    api_key: str | None = None
    auth_header: str = "authorization"  # "authorization" (Bearer), "api-key", "x-api-key" or "" (none)
    headers: Mapping[str, str] = field(default_factory=dict)
    api_version: str | None = None
    url_style: str = "openai"  # "openai" or "azure"


@dataclass(frozen=True, slots=True)
class HttpCall:
    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class SseEvent:
    """One server-sent event: the ``event:`` name (if any) and its ``data:`` payload."""

    data: bytes
    event: str | None = None


class StreamDecoder(Protocol):
    """Turns one upstream stream into OpenAI chunks. Stateful; one per stream."""

    def feed(self, event: SseEvent) -> list[Json]:
        """Chunks produced by this event. Raises ``KeelError`` for an error event in the stream."""
        ...

    @property
    def done(self) -> bool:
        """True once the upstream has signalled a proper end of stream."""
        ...


class Codec(Protocol):
    name: str

    def chat_request(self, body: Json, target: Target, *, stream: bool) -> HttpCall: ...

    def chat_response(self, payload: bytes, target: Target) -> Json: ...

    def stream_decoder(self, body: Json, target: Target) -> StreamDecoder: ...

    def embeddings_request(self, body: Json, target: Target) -> HttpCall: ...

    def embeddings_response(self, payload: bytes, target: Target) -> Json: ...

    def classify_error(self, status: int, headers: Mapping[str, str], payload: bytes) -> KeelError:
        """Map an upstream non-2xx answer to Keel's error tree. The only place this is decided."""
        ...


class Provider(Protocol):
    """What the pipeline calls. Every failure is raised as a ``KeelError``."""

    async def chat(self, body: Json) -> Json: ...

    def chat_stream(self, body: Json) -> AsyncIterator[list[Json]]:
        """OpenAI ``chat.completion.chunk`` dicts, in batches of those that arrived together.

        Batches let the relay write everything available in one go instead of one write per
        chunk. Every batch is non-empty. A stream that ends without a proper end raises.
        """
        ...

    async def embeddings(self, body: Json) -> Json: ...

    async def aclose(self) -> None: ...
