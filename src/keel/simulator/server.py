"""The simulator as an OpenAI-compatible HTTP server.

It is the upstream for gateway benchmarks, so the request path stays lean: one JSON parse, one plan,
sleeps only when the behaviour asks for time, error bodies built once, stream frames written in as
few writes as the timing allows. Faults are played the way a real upstream fails: HTTP errors with
OpenAI-shaped bodies, reset connections, streams cut short, bodies that are not JSON, and silence
(before the answer, or in the middle of a stream).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import multiprocessing
import random
import signal
import socket
import struct
from typing import Any

import orjson
from aiohttp import web

from keel.core.errors import InvalidRequest, KeelError
from keel.simulator.behaviour import Fault
from keel.simulator.engine import HANG_LIMIT_S, MID_STREAM_FAULTS, ChatPlan, SimulatorEngine

Json = dict[str, Any]

_HANG_POLL_S = 0.05
_MAX_BODY = 64 * 1024 * 1024
_JSON = {"Content-Type": "application/json"}
_SSE = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
_DONE = b"data: [DONE]\n\n"
_MALFORMED_BODY = b'{"id": "chatcmpl-sim", "object": "chat.completion", "choices": [{"index": 0, "mess'
_MALFORMED_FRAME = b'data: {"choices": [{"delta": {"content": "unterminated\n\n'
_LINGER_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, timeout 0: close() sends a TCP RST


def _error(status: int, message: str, kind: str, code: str | None, param: str | None = None) -> web.Response:
    body = orjson.dumps(_error_json(message, kind, code, param))
    return web.Response(status=status, body=body, headers=_JSON)


def _error_json(message: str, kind: str, code: str | None, param: str | None) -> Json:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


# Fault kinds answered with a fixed HTTP error; the bodies are what OpenAI sends in the same situation.
_FAULT_ERRORS: dict[str, tuple[int, bytes]] = {
    kind: (status, orjson.dumps(_error_json(message, error_type, code, param)))
    for kind, status, message, error_type, code, param in (
        ("server_error", 500, "The server had an error while processing your request.", "server_error",
         None, None),
        ("overloaded", 503, "The engine is currently overloaded, please try again later.", "server_error",
         "overloaded", None),
        ("content_filter", 400, "Your request was rejected as a result of our safety system.",
         "invalid_request_error", "content_policy_violation", "messages"),
        ("context_length", 400, "This model's maximum context length was exceeded by your messages.",
         "invalid_request_error", "context_length_exceeded", "messages"),
    )
}  # fmt: skip


def build_app(engine: SimulatorEngine) -> web.Application:
    app = web.Application(client_max_size=_MAX_BODY)
    handlers = _Handlers(engine)
    app.router.add_post("/v1/chat/completions", handlers.chat)
    app.router.add_post("/v1/embeddings", handlers.embeddings)
    app.router.add_get("/v1/models", handlers.models)
    app.router.add_get("/healthz", handlers.health)
    return app


class _Handlers:
    __slots__ = ("_engine", "_health", "_models")

    def __init__(self, engine: SimulatorEngine) -> None:
        self._engine = engine
        listing = [
            {"id": name, "object": "model", "created": 0, "owned_by": "keel-simulator"} for name in engine.model_names
        ]
        self._models = orjson.dumps({"object": "list", "data": listing})
        self._health = orjson.dumps({"status": "ok"})

    async def chat(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await _read_json(request)
            plan = self._engine.plan_chat(body)
        except KeelError as exc:
            return _keel_error(exc)
        stream = body.get("stream") is True
        fault = plan.fault
        if fault is not None and not (stream and fault.kind in MID_STREAM_FAULTS):
            failed = await _play_fault(request, fault)
            if failed is not None:
                return failed
        if plan.ttft_s:
            await asyncio.sleep(plan.ttft_s)
        if stream:
            return await self._stream(request, plan)
        if plan.generation_s:
            await asyncio.sleep(plan.generation_s)
        if fault is not None:  # only malformed_json gets here
            return web.Response(body=_MALFORMED_BODY, headers=_JSON)
        return web.Response(body=orjson.dumps(self._engine.completion(plan)), headers=_JSON)

    async def _stream(self, request: web.Request, plan: ChatPlan) -> web.StreamResponse:
        offsets, frames = self._engine.frames(plan)
        fault = plan.fault
        unfinished = fault is not None and fault.kind in MID_STREAM_FAULTS
        if unfinished:
            assert fault is not None
            del offsets[fault.after_chunks :], frames[fault.after_chunks :]
        elif fault is not None:  # malformed_json: one frame that no JSON parser accepts
            offsets.insert(1, offsets[0])
            frames.insert(1, _MALFORMED_FRAME)
        if not unfinished:
            offsets.append(offsets[-1])
            frames.append(_DONE)
        response = web.StreamResponse(headers=_SSE)
        try:
            await response.prepare(request)
            await _write_timed(response, offsets, frames)
        except ConnectionError:
            return response  # the client left; nothing more to say
        if unfinished:
            assert fault is not None
            if fault.kind == "stall":
                await _until_client_leaves(request)
            if request.transport is not None:
                request.transport.close()  # after the data is flushed, without the chunked terminator
        return response

    async def embeddings(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await _read_json(request)
            plan = self._engine.plan_embeddings(body)
        except KeelError as exc:
            return _keel_error(exc)
        if plan.fault is not None:
            failed = await _play_fault(request, plan.fault)
            if failed is not None:
                return failed
        if plan.ttft_s:
            await asyncio.sleep(plan.ttft_s)
        if plan.fault is not None:  # only malformed_json gets here
            return web.Response(body=_MALFORMED_BODY, headers=_JSON)
        return web.Response(body=orjson.dumps(self._engine.embeddings(plan)), headers=_JSON)

    async def models(self, request: web.Request) -> web.Response:
        return web.Response(body=self._models, headers=_JSON)

    async def health(self, request: web.Request) -> web.Response:
        return web.Response(body=self._health, headers=_JSON)


async def _read_json(request: web.Request) -> Json:
    raw = await request.read()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequest("We could not parse the JSON body of your request.") from None
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return body


def _keel_error(exc: KeelError) -> web.Response:
    return web.Response(status=exc.status, body=orjson.dumps(exc.to_openai()), headers=_JSON)


async def _play_fault(request: web.Request, fault: Fault) -> web.StreamResponse | None:
    """Answer a request the fault's way, or ``None`` when the fault is played later (malformed_json)."""
    kind = fault.kind
    fixed = _FAULT_ERRORS.get(kind)
    if fixed is not None:
        return web.Response(status=fixed[0], body=fixed[1], headers=_JSON)
    if kind == "rate_limit":
        return _rate_limited(fault.retry_after_s)
    if kind in ("hang", "stall"):  # a request that is not a stream has no chunks to stall after
        return await _hang(request)
    if kind == "malformed_json":
        return None
    return _reset(request)  # connection_reset, and stream_cut on a request that is not a stream


def _rate_limited(retry_after_s: float) -> web.Response:
    response = _error(
        429,
        "Rate limit reached for requests. Please try again later.",
        "rate_limit_error",
        "rate_limit_exceeded",
    )
    # OpenAI's SDKs honour the millisecond header first; other clients read the whole-second one.
    response.headers["Retry-After"] = str(math.ceil(retry_after_s))
    response.headers["retry-after-ms"] = str(round(retry_after_s * 1000))
    return response


def _reset(request: web.Request) -> web.Response:
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        transport.abort()
    return web.Response(status=500)  # never sent: the connection is already gone


async def _hang(request: web.Request) -> web.Response:
    await _until_client_leaves(request)
    return _error(504, "The simulated upstream hung.", "server_error", "timeout")


async def _until_client_leaves(request: web.Request) -> None:
    """Say nothing until the client gives up, or for ``HANG_LIMIT_S`` at most."""
    # aiohttp does not cancel handlers when a client disconnects, so watch the connection instead.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + HANG_LIMIT_S
    while loop.time() < deadline:
        transport = request.transport
        if transport is None or transport.is_closing():
            return
        await asyncio.sleep(_HANG_POLL_S)


async def _write_timed(response: web.StreamResponse, offsets: list[float], frames: list[bytes]) -> None:
    """Write each frame at its offset from now, joining frames that are already due into one write."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    count = len(frames)
    i = 0
    while i < count:
        delay = start + offsets[i] - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        elapsed = loop.time() - start
        j = i + 1
        while j < count and offsets[j] <= elapsed:
            j += 1
        await response.write(frames[i] if j == i + 1 else b"".join(frames[i:j]))
        i = j


def serve(host: str, port: int, engine: SimulatorEngine, workers: int = 1) -> None:
    """Serve until interrupted. ``workers`` > 1 runs that many processes sharing the port (SO_REUSEPORT).

    Each worker gets its own random stream derived from the engine's, so a seeded engine stays
    reproducible without every worker drawing the same faults in lockstep.
    """
    if workers < 1:
        raise ValueError("workers must be at least 1")
    if workers == 1:
        _run(host, port, engine, reuse_port=False, announce=True)
        return
    seeds = [engine.rng.getrandbits(64) for _ in range(workers)]
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
    processes = [
        context.Process(target=_worker, args=(host, port, engine, seed, index == 0), daemon=True)
        for index, seed in enumerate(seeds)
    ]
    for process in processes:
        process.start()
    # Stopping the parent must stop the workers, whether by Ctrl-C or by a process manager's SIGTERM.
    previous = signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        for process in processes:
            process.join()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=5)


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _worker(host: str, port: int, engine: SimulatorEngine, seed: int, announce: bool) -> None:
    engine.rng = random.Random(seed)
    _run(host, port, engine, reuse_port=True, announce=announce)


def _run(host: str, port: int, engine: SimulatorEngine, *, reuse_port: bool, announce: bool) -> None:
    web.run_app(
        build_app(engine),
        host=host,
        port=port,
        access_log=None,
        print=print if announce else None,
        reuse_port=reuse_port or None,
        backlog=4096,
        loop=_new_loop(),
    )


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
