"""Server-sent events: parse an upstream byte stream into events, and encode chunks for clients."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

import orjson

from keel.providers.base import Json, SseEvent

DONE_FRAME = b"data: [DONE]\n\n"


async def parse_sse(lines: AsyncIterable[bytes]) -> AsyncIterator[SseEvent]:
    """Events from a line stream (aiohttp's ``StreamReader`` iterates lines with their newline)."""
    data: list[bytes] = []
    event: str | None = None
    async for raw in lines:
        line = raw.rstrip(b"\r\n")
        if not line:
            if data:
                yield SseEvent(b"\n".join(data), event)
            data, event = [], None
            continue
        if line.startswith(b"data:"):
            data.append(line[6:] if line[5:6] == b" " else line[5:])
        elif line.startswith(b"event:"):
            event = line[6:].strip().decode("utf-8", "replace")
        # comments (":") and id/retry fields carry nothing Keel uses
    if data:
        yield SseEvent(b"\n".join(data), event)


def encode_chunk(chunk: Json) -> bytes:
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def encode_error(error: Json) -> bytes:
    """An error inside a stream, after bytes were sent: OpenAI's shape, as its SDK raises it."""
    return b"data: " + orjson.dumps(error) + b"\n\n"
