"""The upstream HTTP client: HTTP/1.1 on pooled keep-alive connections, answers parsed by llhttp.

Every call to a model goes through here, so its cost is on every request's path. Measured with
bench/upstream_client.py (bench/README.md, "Upstream client"): aiohttp's client spent about 310 µs of
CPU per call, this one about 90 µs. It does only what an upstream call needs: one write per request,
the answer parsed by ``httptools`` (the llhttp parser), bodies whole or as chunks while they arrive.

- Connections are kept per origin (scheme, host, port) and reused last-in first-out; one idle longer
  than ``keepalive_s`` is closed rather than reused, as is one the upstream closed.
- A connection returns to the pool only after a complete answer that allows keep-alive; an exchange
  that fails, is cancelled or is left unread closes its connection.
- ``https`` uses the system's trust store; answers compressed with gzip or deflate are decompressed.
- Failures below HTTP (connecting, TLS, a dropped connection, a malformed answer) raise
  ``TransportError``; a connect timeout raises ``TimeoutError``.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import zlib
from collections import deque
from collections.abc import AsyncIterator, Mapping
from functools import lru_cache
from types import TracebackType
from typing import NamedTuple
from urllib.parse import urlsplit

import httptools

READ_PAUSE_BYTES = 1 << 20
"""Stop reading from the socket while this much of a streamed answer waits for its reader."""


class TransportError(Exception):
    """The exchange failed below HTTP; the message says how."""


class Origin(NamedTuple):
    scheme: str
    host: str
    port: int


class _Address(NamedTuple):
    origin: Origin
    target: str  # path and query, as sent in the request line
    host_header: str


@lru_cache(maxsize=1024)
def _address(url: str) -> _Address:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise TransportError(f"not an http(s) URL: {url!r}")
    default = 443 if scheme == "https" else 80
    port = parts.port or default
    host = parts.hostname
    shown = f"[{host}]" if ":" in host else host
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return _Address(Origin(scheme, host, port), target, shown if port == default else f"{shown}:{port}")


class _Connection(asyncio.Protocol):
    """One keep-alive connection; the parser's callbacks feed the answer in progress."""

    __slots__ = ("answer", "closed", "idle_since", "parser", "transport")

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.answer: Response | None = None
        self.closed = False
        self.idle_since = 0.0

    # asyncio protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not subclasses

    def data_received(self, data: bytes) -> None:
        answer = self.answer
        if answer is None:  # nothing was asked: the upstream is not speaking HTTP/1.1 to us
            self.close()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            answer.fail(TransportError(f"malformed HTTP answer from the upstream: {error}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.answer is not None:
            self.answer.lost(exc)

    # parser callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        assert self.answer is not None
        self.answer.raw_headers.append((name, value))

    def on_headers_complete(self) -> None:
        assert self.answer is not None
        self.answer.headers_complete(self.parser.get_status_code())

    def on_body(self, body: bytes) -> None:
        assert self.answer is not None
        self.answer.feed(body)

    def on_message_complete(self) -> None:
        assert self.answer is not None
        self.answer.message_complete(self.parser.should_keep_alive())

    # pool side

    def usable(self, now: float, keepalive_s: float) -> bool:
        transport = self.transport
        return (
            not self.closed
            and transport is not None
            and not transport.is_closing()
            and now - self.idle_since < keepalive_s
        )

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class Response:
    """An upstream's answer: status and headers once they arrived, then its body whole or in chunks.

    Header names are lower-case; a repeated header's values are joined with ", ".
    """

    __slots__ = (
        "_buffered",
        "_chunks",
        "_complete",
        "_connection",
        "_decoder",
        "_error",
        "_has_headers",
        "_headers",
        "_keep_alive",
        "_waiter",
        "raw_headers",
        "status",
    )

    def __init__(self, connection: _Connection) -> None:
        self.status = 0
        self.raw_headers: list[tuple[bytes, bytes]] = []
        self._headers: dict[str, str] | None = None
        self._connection = connection
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._has_headers = False
        self._complete = False
        self._keep_alive = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._decoder: zlib._Decompress | None = None

    @property
    def headers(self) -> dict[str, str]:
        """Decoded on first use: most answers are read without a look at their headers."""
        if self._headers is None:
            headers: dict[str, str] = {}
            for raw_name, raw_value in self.raw_headers:
                name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
                headers[name] = f"{headers[name]}, {value}" if name in headers else value
            self._headers = headers
        return self._headers

    # fed by the connection

    def headers_complete(self, status: int) -> None:
        if 100 <= status < 200:  # an interim answer (100 Continue, 103 Early Hints): the real one follows
            self.raw_headers.clear()
            return
        self.status = status
        for name, value in self.raw_headers:
            encoded = len(name) == 16 and name.lower() == b"content-encoding"
            if encoded and not self._decode_as(value.decode("latin-1").strip().lower()):
                return
        self._has_headers = True
        self._wake()

    def _decode_as(self, encoding: str) -> bool:
        if encoding in ("gzip", "x-gzip"):
            self._decoder = zlib.decompressobj(wbits=31)
        elif encoding == "deflate":
            self._decoder = zlib.decompressobj(wbits=47)
        elif encoding not in ("identity", ""):
            self.fail(TransportError(f"the upstream answered with an unsupported content-encoding {encoding!r}"))
            return False
        return True

    def feed(self, body: bytes) -> None:
        if self._decoder is not None:
            try:
                body = self._decoder.decompress(body)
            except zlib.error as error:
                self.fail(TransportError(f"the upstream's compressed answer is corrupt: {error}"))
                return
        if body:
            self._chunks.append(body)
            self._buffered += len(body)
            if self._buffered > READ_PAUSE_BYTES and self._connection.transport is not None:
                self._connection.transport.pause_reading()
            self._wake()

    def message_complete(self, keep_alive: bool) -> None:
        if not self._has_headers:  # the end of an interim answer
            return
        if self._decoder is not None:
            rest = self._decoder.flush()
            if rest:
                self._chunks.append(rest)
        self._complete = True
        self._keep_alive = keep_alive
        self._wake()

    def lost(self, exc: Exception | None) -> None:
        if self._complete:
            return
        if exc is None and self._has_headers and self._until_close():
            self.message_complete(False)
            return
        detail = f": {exc}" if exc is not None else ""
        self.fail(TransportError(f"the upstream closed the connection before its answer was complete{detail}"))

    def _until_close(self) -> bool:
        """Neither a length nor chunked: the body ends with the connection."""
        headers = self.headers
        return "content-length" not in headers and "chunked" not in headers.get("transfer-encoding", "")

    def fail(self, error: BaseException) -> None:
        if self._error is None and not self._complete:
            self._error = error
            self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self) -> None:
        if self._error is not None:
            raise self._error
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        try:
            await waiter
        finally:
            self._waiter = None
        if self._error is not None:
            raise self._error

    # read by the caller

    async def _wait_headers(self) -> None:
        while not self._has_headers:
            await self._wait()

    async def read(self) -> bytes:
        """The whole body."""
        while not self._complete:
            await self._wait()
        body = b"".join(self._chunks)
        self._chunks.clear()
        return body

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        """The body in the pieces it arrives in."""
        chunks = self._chunks
        while True:
            if chunks:
                chunk = chunks.popleft()
                self._buffered -= len(chunk)
                transport = self._connection.transport
                if self._buffered <= READ_PAUSE_BYTES // 2 and transport is not None and not transport.is_reading():
                    transport.resume_reading()
                yield chunk
            elif self._complete:
                return
            else:
                await self._wait()

    @property
    def reusable(self) -> bool:
        return self._complete and self._keep_alive and self._error is None and not self._chunks


class HttpClient:
    """Pooled HTTP/1.1 for upstream calls; one per process, shared by every deployment."""

    def __init__(self, *, keepalive_s: float = 60.0, ssl_context: ssl.SSLContext | None = None) -> None:
        self._keepalive_s = keepalive_s
        self._ssl_context = ssl_context
        self._idle: dict[Origin, list[_Connection]] = {}
        self._closed = False

    def request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes, *, connect_timeout_s: float
    ) -> Exchange:
        """``async with client.request(...) as response:`` — the connection is released on exit."""
        return Exchange(self, method, url, headers, body, connect_timeout_s)

    @property
    def idle_connections(self) -> int:
        return sum(len(conns) for conns in self._idle.values())

    async def aclose(self) -> None:
        self._closed = True
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()

    async def _acquire(self, origin: Origin, connect_timeout_s: float) -> _Connection:
        if self._closed:
            raise TransportError("the upstream client is closed")
        idle = self._idle.get(origin)
        if idle:
            now = time.monotonic()
            while idle:
                conn = idle.pop()
                if conn.usable(now, self._keepalive_s):
                    return conn
                conn.close()
        return await self._connect(origin, connect_timeout_s)

    async def _connect(self, origin: Origin, timeout_s: float) -> _Connection:
        loop = asyncio.get_running_loop()
        tls = self._tls() if origin.scheme == "https" else None
        try:
            async with asyncio.timeout(timeout_s):
                _, conn = await loop.create_connection(
                    _Connection, origin.host, origin.port, ssl=tls, server_hostname=origin.host if tls else None
                )
        except TimeoutError:
            raise TimeoutError(f"connecting to {origin.host}:{origin.port} took over {timeout_s:g} s") from None
        except OSError as error:
            reason = error.strerror or str(error) or type(error).__name__
            raise TransportError(f"cannot connect to {origin.host}:{origin.port}: {reason}") from None
        return conn

    def _tls(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    def _release(self, origin: Origin, conn: _Connection, response: Response | None) -> None:
        conn.answer = None
        if response is not None and response.reusable and not conn.closed and not self._closed:
            conn.parser = httptools.HttpResponseParser(conn)
            conn.idle_since = time.monotonic()
            self._idle.setdefault(origin, []).append(conn)
        else:
            conn.close()


class Exchange:
    """One request on one pooled connection, as an async context manager yielding its ``Response``."""

    __slots__ = ("_body", "_client", "_connect_timeout_s", "_headers", "_held", "_method", "_response", "_url")

    def __init__(
        self,
        client: HttpClient,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        connect_timeout_s: float,
    ) -> None:
        self._client = client
        self._method = method
        self._url = url
        self._headers = headers
        self._body = body
        self._connect_timeout_s = connect_timeout_s
        self._held: tuple[Origin, _Connection] | None = None
        self._response: Response | None = None

    async def __aenter__(self) -> Response:
        address = _address(self._url)
        head = _head(self._method, address, self._headers, len(self._body))
        conn = await self._client._acquire(address.origin, self._connect_timeout_s)
        self._held = (address.origin, conn)
        response = self._response = conn.answer = Response(conn)
        try:
            assert conn.transport is not None
            conn.transport.write(head + self._body)
            await response._wait_headers()
        except BaseException:
            self._client._release(address.origin, conn, None)
            raise
        return response

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._held is not None:
            origin, conn = self._held
            self._client._release(origin, conn, self._response if exc is None else None)


_SET_HERE = frozenset({"host", "content-length", "transfer-encoding", "connection"})


def _head(method: str, address: _Address, headers: Mapping[str, str], length: int) -> bytes:
    lines = [f"{method} {address.target} HTTP/1.1", f"host: {address.host_header}", f"content-length: {length}"]
    for name, value in headers.items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name or ":" in name:
            raise TransportError(f"the header {name!r} holds a line break or a colon where it cannot")
        if name.lower() not in _SET_HERE:
            lines.append(f"{name}: {value}")
    lines.append("\r\n")
    try:
        return "\r\n".join(lines).encode("latin-1")
    except UnicodeEncodeError:
        raise TransportError("a request header holds characters HTTP/1.1 cannot carry") from None
