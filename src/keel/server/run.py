"""Run the gateway: one process, or several worker processes sharing the port (SO_REUSEPORT)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import multiprocessing
import os
import signal
from pathlib import Path

from aiohttp import web

from keel.config.runtime import RuntimeConfig
from keel.server.app import build_app
from keel.services.runtime import Runtime
from keel.store.spool import SpoolLockedError

log = logging.getLogger("keel")


def serve(config: RuntimeConfig, config_path: Path | None, host: str, port: int, workers: int) -> None:
    if workers <= 1:
        _run_worker(config, config_path, host, port, reuse_port=False)
        return
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_run_worker, args=(config, config_path, host, port, True), name=f"keel-worker-{i}")
        for i in range(workers)
    ]
    for p in procs:
        p.start()

    def forward(signum: int, _frame: object) -> None:
        for p in procs:
            if p.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.pid, signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    for p in procs:
        p.join()


def _run_worker(config: RuntimeConfig, config_path: Path | None, host: str, port: int, reuse_port: bool) -> None:
    _setup_logging()
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.run(_main(config, config_path, host, port, reuse_port))


class StartupError(Exception):
    """The gateway cannot start for a reason the operator can fix; the message says which."""


async def _main(config: RuntimeConfig, config_path: Path | None, host: str, port: int, reuse_port: bool) -> None:
    runtime = Runtime(config, config_path)
    try:
        await runtime.start()
    except SpoolLockedError as error:
        raise StartupError(
            f"{error}: another Keel process uses this data directory; give each process its own "
            "storage.data_dir (or storage.spool_dir)"
        ) from None
    runtime.watch()
    app = build_app(runtime)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_port=reuse_port or None, backlog=1024)
    try:
        await site.start()
    except OSError as error:
        await runner.cleanup()
        await runtime.aclose()
        raise StartupError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    # Start-up objects (config, catalogues, detectors) never die: out of the collector's reach, full
    # collections stay short instead of stalling the event loop for ~100 ms under load.
    gc.collect()
    gc.freeze()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info(
        "keel serving on http://%s:%d (config %s from %s, pid %d)",
        host,
        port,
        config.hash,
        config.source,
        os.getpid(),
    )
    try:
        await stop.wait()
    finally:
        log.info("shutting down: finishing requests in flight")
        await runner.cleanup()  # stops accepting, lets in-flight requests finish
        await runtime.aclose()  # flushes the request log


def _setup_logging() -> None:
    level = os.environ.get("KEEL_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
