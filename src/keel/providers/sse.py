"""Server-sent events: parse an upstream byte stream into events, and encode chunks for clients."""

from __future__ import annotations

import orjson

from keel.providers.base import Json, SseEvent

DONE_FRAME = b"data: [DONE]\n\n"


class SseParser:
    """Incremental: feed it bytes as they arrive, get back the complete events among them."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[SseEvent]:
        buffer = self._buffer + data
        held = b""
        if b"\r" in buffer:
            if buffer.endswith(b"\r"):  # may be the first half of a CRLF split across reads
                buffer, held = buffer[:-1], b"\r"
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        *blocks, rest = buffer.split(b"\n\n")
        self._buffer = rest + held
        return [event for block in blocks if (event := _event(block)) is not None]

    def close(self) -> list[SseEvent]:
        """Whatever complete-looking event is left when the stream ends without a blank line."""
        rest, self._buffer = self._buffer.replace(b"\r", b"\n"), b""
        event = _event(rest)
        return [event] if event is not None else []


def _event(block: bytes) -> SseEvent | None:
    if block.startswith(b"data: ") and b"\n" not in block:  # the common case: one data line
        return SseEvent(block[6:])
    data: list[bytes] = []
    event: str | None = None
    for line in block.split(b"\n"):
        if line.startswith(b"data:"):
            data.append(line[6:] if line[5:6] == b" " else line[5:])
        elif line.startswith(b"event:"):
            event = line[6:].strip().decode("utf-8", "replace")
        # comments (":") and id/retry fields carry nothing Keel uses
    return SseEvent(b"\n".join(data), event) if data else None


def encode_chunk(chunk: Json) -> bytes:
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def encode_error(error: Json) -> bytes:
    """An error inside a stream, after bytes were sent: OpenAI's shape, as its SDK raises it."""
    return b"data: " + orjson.dumps(error) + b"\n\n"
