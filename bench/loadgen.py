"""A lean closed-loop HTTP/1.1 load generator for POST requests, streaming or not.

Each of ``--concurrency`` connections sends one request, waits for the whole response, and sends the
next, until ``--warmup`` + ``--duration`` seconds have passed or ``--requests`` requests were sent.
Only answers completed inside the window (after the warm-up) are counted and timed; as with wrk,
requests still in flight when the time is up are dropped. Errors are counted throughout. It is written
against asyncio's protocol layer (no HTTP client library) and runs on uvloop, so that one core can keep
a Python gateway busy. Per request it records the latency to the last byte and the time to the first
byte of the response body (for a stream: the first SSE frame). A request counts as an error when the
status is not 200, the connection breaks, it times out, or a stream does not end with ``data: [DONE]``
and the chunked terminator.

Usage: python loadgen.py --url http://127.0.0.1:8080/v1/chat/completions --body '{...}' \
           [--stream] [--token T] -c 16 [--warmup 1] -d 5 [--requests N] [--marks] [--out result.json]

The result (JSON on stdout or in ``--out``) holds counts and latency histograms in whole microseconds
({microseconds: count}), which the harness merges across rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import sys
import time
from collections import Counter
from urllib.parse import urlsplit

_HEAD_END = b"\r\n\r\n"
_DONE = b"data: [DONE]"


class _Conn(asyncio.Protocol):
    """One keep-alive connection with at most one request in flight."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.waiter: asyncio.Future[tuple[int, float, float, bool]] | None = None
        self.keep_alive = True
        self.state = 5  # 0 head, 1 sized body, 2 chunked body, 3 no body, 4 body until close, 5 idle
        self.head = bytearray()
        self.body = bytearray()
        self.raw = bytearray()
        self.pos = 0
        self.status = 0
        self.length = 0
        self.stream = False
        self.t0 = 0.0
        self.first: float | None = None

    # asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not subclasses
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.state == 4:  # the body was delimited by the close
            self._finish(time.perf_counter())
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((-1, 0.0, 0.0, False))

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        if self.state == 0:
            self.head += data
            end = self.head.find(_HEAD_END)
            if end < 0:
                return
            self._parse_head(bytes(self.head[:end]))
            data = bytes(self.head[end + 4 :])
            self.head = bytearray()
            if self.state == 3:  # nothing to read (e.g. 204)
                self._finish(now)
                return
            if not data:
                return
        if self.first is None and data:
            self.first = now
        if self.state == 1:  # Content-Length
            self.body += data
            if len(self.body) >= self.length:
                self._finish(now)
        elif self.state == 2:  # chunked
            self.raw += data
            self._chunks(now)
        elif self.state == 4:  # until the connection closes
            self.body += data

    # request and response

    def start(self, request: bytes, stream: bool) -> asyncio.Future[tuple[int, float, float, bool]]:
        assert self.transport is not None
        self.state = 0
        self.head = bytearray()
        self.body = bytearray()
        self.raw = bytearray()
        self.pos = 0
        self.status = 0
        self.length = 0
        self.stream = stream
        self.first = None
        self.waiter = asyncio.get_running_loop().create_future()
        self.t0 = time.perf_counter()
        self.transport.write(request)
        return self.waiter

    def _parse_head(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        status_line = lines[0]
        try:
            self.status = int(status_line[9:12])
        except ValueError:
            self.status = 0
        self.keep_alive = not status_line.startswith(b"HTTP/1.0")
        length = None
        chunked = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value.strip())
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                lowered = value.strip().lower()
                if lowered == b"close":
                    self.keep_alive = False
                elif lowered == b"keep-alive":
                    self.keep_alive = True
        if chunked:
            self.state = 2
        elif length is not None:
            self.length = length
            self.state = 1 if length > 0 else 3
        elif self.status in (204, 304):
            self.state = 3
        else:
            self.state = 4
            self.keep_alive = False

    def _chunks(self, now: float) -> None:
        raw = self.raw
        pos = self.pos
        while True:
            line_end = raw.find(b"\r\n", pos)
            if line_end < 0:
                break
            size = int(raw[pos:line_end].split(b";", 1)[0], 16)
            if size == 0:
                if raw.find(b"\r\n", line_end + 2) < 0:  # the empty line after the last chunk (no trailers)
                    break
                self._finish(now)
                return
            data_end = line_end + 2 + size
            if len(raw) < data_end + 2:
                break
            if self.stream:
                self.body += raw[line_end + 2 : data_end]
            pos = data_end + 2
        if pos > 65536:
            del raw[:pos]
            pos = 0
        self.pos = pos

    def _finish(self, now: float) -> None:
        self.state = 5
        first = self.first if self.first is not None else now
        ok = self.status == 200 and (not self.stream or _DONE in self.body)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((self.status, now - self.t0, first - self.t0, ok))
        if not self.keep_alive and self.transport is not None:
            self.transport.close()


class _Stats:
    def __init__(self) -> None:
        self.latency: Counter[int] = Counter()
        self.ttfb: Counter[int] = Counter()
        self.ok = 0
        self.errors: Counter[str] = Counter()
        self.last_done = 0.0
        self.sample_error = ""


async def run(
    url: str,
    body: bytes,
    stream: bool,
    token: str | None,
    concurrency: int,
    duration: float,
    max_requests: int | None,
    timeout: float,
    warmup: float = 0.0,
    marks: bool = False,
) -> dict[str, object]:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or 80
    path = parts.path or "/"
    headers = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Accept: text/event-stream" if stream else "Accept: application/json",
    ]
    if token:
        headers.append(f"Authorization: Bearer {token}")
    request = ("\r\n".join(headers) + "\r\n\r\n").encode() + body

    loop = asyncio.get_running_loop()
    stats = _Stats()
    issued = 0
    live: set[_Conn] = set()
    stopping = False
    measuring = False
    failing = 0  # connection attempts that failed in a row
    start = time.perf_counter()
    window = {"start": start, "end": 0.0, "cpu_start": time.process_time(), "cpu_end": 0.0}

    def mark(text: str) -> None:
        if marks:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()

    def begin() -> None:
        # Answers that arrive during the warm-up (connections opening, the first wave) are not counted.
        nonlocal measuring
        measuring = True
        window["start"], window["cpu_start"] = time.perf_counter(), time.process_time()
        mark("WINDOW_START")

    def stop() -> None:
        # Like wrk: what is still in flight when the time is up is dropped, not counted.
        nonlocal stopping
        stopping = True
        window["end"], window["cpu_end"] = time.perf_counter(), time.process_time()
        mark("WINDOW_END")
        for conn in list(live):
            if conn.transport is not None:
                conn.transport.abort()

    if warmup > 0:
        starter = loop.call_later(warmup, begin)
    else:
        starter = None
        begin()
    stopper = loop.call_later(warmup + duration, stop)

    async def worker() -> None:
        nonlocal issued, failing
        conn: _Conn | None = None
        while not stopping and (max_requests is None or issued < max_requests):
            if conn is None or conn.closed:
                if conn is not None:
                    live.discard(conn)
                try:
                    _, fresh = await asyncio.wait_for(loop.create_connection(_Conn, host, port), timeout)
                except (TimeoutError, OSError) as exc:
                    if stopping:
                        break
                    stats.errors["connect"] += 1
                    stats.sample_error = stats.sample_error or f"connect: {exc!r}"
                    conn = None
                    failing += 1
                    if failing >= max(100, 2 * concurrency):  # nobody is listening: give up early
                        stop()
                        break
                    await asyncio.sleep(0.05)
                    continue
                failing = 0
                conn = fresh
                live.add(conn)
                if stopping:
                    break
            issued += 1
            waiter = conn.start(request, stream)
            timer = loop.call_later(timeout, _expire, waiter)
            status, latency, ttfb, ok = await waiter
            timer.cancel()
            if stopping:
                break
            stats.last_done = time.perf_counter()
            if ok and not measuring:
                continue
            if ok:
                stats.ok += 1
                stats.latency[int(latency * 1e6)] += 1
                stats.ttfb[int(ttfb * 1e6)] += 1
                continue
            if status == -1:
                stats.errors["broken"] += 1
            elif status == -2:
                stats.errors["timeout"] += 1
            elif status != 200:
                stats.errors[f"status_{status}"] += 1
            else:
                stats.errors["bad_stream"] += 1
            if not stats.sample_error:
                stats.sample_error = f"status {status}: {bytes(conn.body[:300])!r}"
            if status < 0 or not conn.keep_alive:
                if conn.transport is not None:
                    conn.transport.abort()
                live.discard(conn)
                conn = None
        if conn is not None and conn.transport is not None:
            conn.transport.close()

    tasks = [asyncio.ensure_future(worker()) for _ in range(concurrency)]
    await asyncio.gather(*tasks)
    stopper.cancel()
    if starter is not None:
        starter.cancel()
    if not stopping:  # ran out of requests: the window ends with the last answer
        window["end"], window["cpu_end"] = stats.last_done or time.perf_counter(), time.process_time()
    elapsed = window["end"] - window["start"] if measuring else 0.0
    return {
        "ok": stats.ok,
        "errors": dict(stats.errors),
        "error_count": sum(stats.errors.values()),
        "sample_error": stats.sample_error,
        "issued": issued,
        "duration_s": elapsed,
        "loadgen_cpu_s": window["cpu_end"] - window["cpu_start"] if measuring else 0.0,
        "latency_us": {str(k): v for k, v in stats.latency.items()},
        "ttfb_us": {str(k): v for k, v in stats.ttfb.items()},
    }


def _expire(waiter: asyncio.Future[tuple[int, float, float, bool]]) -> None:
    if not waiter.done():
        waiter.set_result((-2, 0.0, 0.0, False))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--body", required=True, help="the JSON request body")
    parser.add_argument("--stream", action="store_true", help="expect an SSE stream ending in data: [DONE]")
    parser.add_argument("--token", help="sent as 'Authorization: Bearer TOKEN'")
    parser.add_argument("-c", "--concurrency", type=int, default=1)
    parser.add_argument("-d", "--duration", type=float, default=5.0, help="seconds (hard cap on the run)")
    parser.add_argument("--requests", type=int, help="stop after this many requests")
    parser.add_argument("--timeout", type=float, default=30.0, help="per-request timeout in seconds")
    parser.add_argument("--warmup", type=float, default=0.0, help="seconds of load before the counted window")
    parser.add_argument("--marks", action="store_true", help="print WINDOW_START / WINDOW_END lines as they happen")
    parser.add_argument("--out", help="write the JSON result here instead of stdout")
    args = parser.parse_args(argv)
    try:
        import uvloop
    except ImportError:
        runner = asyncio.run
    else:
        runner = uvloop.run
    result = runner(
        run(
            args.url,
            args.body.encode(),
            args.stream,
            args.token,
            args.concurrency,
            args.duration,
            args.requests,
            args.timeout,
            args.warmup,
            args.marks,
        )
    )
    text = json.dumps(result)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
