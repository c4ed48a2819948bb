"""The upstream HTTP client against scripted servers: framing, keep-alive, failures and TLS."""

from __future__ import annotations

import asyncio
import gzip
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from keel.providers.transport import HttpClient, TransportError

Reply = Callable[[bytes, asyncio.StreamWriter], Awaitable[bool]]
"""Given a request (head and body), write the answer; return whether to keep the connection open."""

BODY = b'{"hello": "world"}'


class Server:
    """A plain asyncio server that reads whole requests and answers each with a script."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.connections = 0
        self.requests: list[bytes] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                if not await self.reply(request, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/things?x=1"


@asynccontextmanager
async def serving(reply: Reply, tls: ssl.SSLContext | None = None) -> AsyncIterator[Server]:
    server = Server(reply)
    listener = await asyncio.start_server(server._handle, "127.0.0.1", 0, ssl=tls)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()
        for writer in server.writers:
            writer.close()


def answer(body: bytes = BODY, status: str = "200 OK", extra: bytes = b"") -> bytes:
    return (
        f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n".encode()
        + extra
        + b"\r\n"
        + body
    )


async def ok(request: bytes, writer: asyncio.StreamWriter) -> bool:
    writer.write(answer())
    return True


@pytest.fixture
async def client() -> AsyncIterator[HttpClient]:
    http = HttpClient()
    try:
        yield http
    finally:
        await http.aclose()


async def fetch(client: HttpClient, url: str, body: bytes = BODY) -> tuple[int, dict[str, str], bytes]:
    async with client.request("POST", url, {"content-type": "application/json"}, body, connect_timeout_s=2) as resp:
        return resp.status, resp.headers, await resp.read()


async def test_a_request_goes_out_whole_and_its_answer_comes_back() -> None:
    async with serving(ok) as server:
        http = HttpClient()
        status, headers, body = await fetch(http, server.url)
        await http.aclose()
    assert (status, body) == (200, BODY)
    assert headers["content-type"] == "application/json"
    request = server.requests[0]
    assert request.startswith(b"POST /v1/things?x=1 HTTP/1.1\r\n")
    assert f"host: 127.0.0.1:{server.port}\r\n".encode() in request
    assert b"content-length: 18\r\n" in request and request.endswith(b"\r\n\r\n" + BODY)


async def test_connections_are_kept_alive_and_reused(client: HttpClient) -> None:
    async with serving(ok) as server:
        for _ in range(5):
            assert (await fetch(client, server.url))[2] == BODY
        assert server.connections == 1
        assert client.idle_connections == 1


async def test_concurrent_requests_each_get_a_connection_then_share_the_pool(client: HttpClient) -> None:
    async def slow(request: bytes, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(0.05)
        writer.write(answer())
        return True

    async with serving(slow) as server:
        results = await asyncio.gather(*(fetch(client, server.url) for _ in range(4)))
        assert all(r[2] == BODY for r in results)
        assert server.connections == 4 and client.idle_connections == 4
        await asyncio.gather(*(fetch(client, server.url) for _ in range(4)))
        assert server.connections == 4


async def test_an_answer_that_closes_the_connection_is_not_pooled(client: HttpClient) -> None:
    async def close_after(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer(extra=b"connection: close\r\n"))
        return False

    async with serving(close_after) as server:
        await fetch(client, server.url)
        await fetch(client, server.url)
        assert server.connections == 2 and client.idle_connections == 0


async def test_a_body_without_a_length_ends_with_the_connection(client: HttpClient) -> None:
    async def until_close(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n" + BODY)
        await writer.drain()
        return False

    async with serving(until_close) as server:
        assert await fetch(client, server.url) == (
            200,
            {"content-type": "application/json", "connection": "close"},
            BODY,
        )


async def test_a_chunked_answer_arrives_piece_by_piece(client: HttpClient) -> None:
    sent_second = asyncio.Event()
    got_first = asyncio.Event()

    async def chunked(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await writer.drain()
        await got_first.wait()
        writer.write(b"6\r\nsecond\r\n0\r\n\r\n")
        sent_second.set()
        return True

    async with serving(chunked) as server:
        pieces = []
        async with client.request("POST", server.url, {}, b"", connect_timeout_s=2) as resp:
            async for chunk in resp.iter_chunks():
                pieces.append((chunk, sent_second.is_set()))
                got_first.set()
        assert pieces == [(b"first", False), (b"second", True)]
        assert client.idle_connections == 1  # complete and keep-alive: reusable


async def test_gzip_answers_are_decompressed(client: HttpClient) -> None:
    packed = gzip.compress(BODY * 100)

    async def gzipped(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer(packed, extra=b"content-encoding: gzip\r\n"))
        return True

    async with serving(gzipped) as server:
        assert (await fetch(client, server.url))[2] == BODY * 100


async def test_an_unsupported_encoding_is_a_transport_error(client: HttpClient) -> None:
    async def brotli(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer(b"\x00\x01", extra=b"content-encoding: br\r\n"))
        return True

    async with serving(brotli) as server:
        with pytest.raises(TransportError, match="unsupported content-encoding 'br'"):
            await fetch(client, server.url)
        assert client.idle_connections == 0


async def test_an_interim_answer_is_skipped(client: HttpClient) -> None:
    async def early_hints(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 103 Early Hints\r\nlink: </x>\r\n\r\n" + answer(status="201 Created"))
        return True

    async with serving(early_hints) as server:
        status, headers, body = await fetch(client, server.url)
        assert (status, body, "link" in headers) == (201, BODY, False)


async def test_error_statuses_come_back_as_answers(client: HttpClient) -> None:
    async def limited(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer(b'{"error": {}}', "429 Too Many Requests", b"retry-after: 3\r\n"))
        return True

    async with serving(limited) as server:
        status, headers, body = await fetch(client, server.url)
        assert (status, headers["retry-after"], body) == (429, "3", b'{"error": {}}')
        assert client.idle_connections == 1


async def test_a_connection_dropped_mid_body_fails_and_is_not_reused(client: HttpClient) -> None:
    calls = 0

    async def cut(request: bytes, writer: asyncio.StreamWriter) -> bool:
        nonlocal calls
        calls += 1
        if calls == 1:
            writer.write(answer()[:-5])
            await writer.drain()
            return False
        writer.write(answer())
        return True

    async with serving(cut) as server:
        with pytest.raises(TransportError, match="closed the connection before its answer was complete"):
            await fetch(client, server.url)
        assert client.idle_connections == 0
        assert (await fetch(client, server.url))[2] == BODY
        assert server.connections == 2


async def test_a_malformed_answer_is_a_transport_error(client: HttpClient) -> None:
    async def garbage(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"SMTP ready\r\n\r\n")
        return True

    async with serving(garbage) as server:
        with pytest.raises(TransportError, match="malformed HTTP answer"):
            await fetch(client, server.url)
        assert client.idle_connections == 0


async def test_a_refused_connection_names_the_address(client: HttpClient) -> None:
    async with serving(ok) as server:
        port = server.port
    with pytest.raises(TransportError, match=f"cannot connect to 127.0.0.1:{port}"):
        await fetch(client, f"http://127.0.0.1:{port}/v1")


async def test_a_cancelled_exchange_closes_its_connection(client: HttpClient) -> None:
    async def never(request: bytes, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(30)
        return True

    async with serving(never) as server:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await fetch(client, server.url)
        assert client.idle_connections == 0


async def test_an_unread_answer_does_not_return_its_connection(client: HttpClient) -> None:
    async with serving(ok) as server:
        async with client.request("POST", server.url, {}, b"", connect_timeout_s=2) as resp:
            assert resp.status == 200
        assert client.idle_connections == 0


async def test_a_connection_the_upstream_closed_while_idle_is_replaced(client: HttpClient) -> None:
    async with serving(ok) as server:
        await fetch(client, server.url)
        for writer in server.writers:
            writer.close()
        await asyncio.sleep(0.05)
        assert (await fetch(client, server.url))[2] == BODY
        assert server.connections == 2


async def test_an_idle_connection_past_keepalive_is_not_reused() -> None:
    http = HttpClient(keepalive_s=0.05)
    async with serving(ok) as server:
        await fetch(http, server.url)
        await asyncio.sleep(0.1)
        await fetch(http, server.url)
        assert server.connections == 2
    await http.aclose()


async def test_headers_that_would_split_the_request_are_refused(client: HttpClient) -> None:
    async with serving(ok) as server:
        with pytest.raises(TransportError, match="line break"):
            async with client.request("POST", server.url, {"x-key": "a\r\nhost: evil"}, b"", connect_timeout_s=2):
                pass
        assert server.requests == []


async def test_a_url_that_is_not_http_is_refused(client: HttpClient) -> None:
    with pytest.raises(TransportError, match="not an http"):
        await fetch(client, "ftp://example.com/x")


async def test_https_with_the_given_trust(tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    async with serving(ok, tls=server_tls) as server:
        url = f"https://localhost:{server.port}/v1"
        strange = HttpClient()
        with pytest.raises(TransportError, match="cannot connect"):  # not trusted by the system store
            await fetch(strange, url)
        await strange.aclose()
        trusting = HttpClient(ssl_context=ssl.create_default_context(cafile=str(cert)))
        assert (await fetch(trusting, url))[2] == BODY
        assert (await fetch(trusting, url))[2] == BODY
        assert server.connections == 1  # the refused handshake never got that far; then one kept alive
        await trusting.aclose()
