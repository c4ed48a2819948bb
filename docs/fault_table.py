"""Measure what each upstream fault costs a client of Keel, and print the fault table as Markdown.

    .venv/bin/python docs/fault_table.py [--requests 40] [--concurrency 8]

Starts ``keel simulate`` and ``keel serve --config examples/resilience.yaml`` on free ports (state in a
temporary directory), then drives every scenario route of that config with the official OpenAI SDK:
``--requests`` whole requests and as many streams, ``--concurrency`` at a time, no SDK retries. For each
it counts the requests the client saw fail (an exception, or a stream that ended without a finish
reason) and the median latency added over the ``baseline`` route, the healthy upstream alone, measured
the same way. A request's latency runs until its answer, or its stream, has ended.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai

ROOT = Path(__file__).resolve().parents[1]
KEEL = [sys.executable, "-m", "keel.cli"]
QUESTION: Any = [{"role": "user", "content": "How do I reset my password?"}]
BEFORE = "before the first byte"


@dataclass(frozen=True)
class Scenario:
    route: str
    fault: str
    hits_whole: str = BEFORE
    hits_stream: str = BEFORE


SCENARIOS = [
    Scenario("drill-server-error", "HTTP 500"),
    Scenario("drill-rate-limit", "HTTP 429, Retry-After 1 s"),
    Scenario("drill-connection-reset", "connection reset"),
    Scenario("drill-malformed-json", "malformed JSON"),
    Scenario("drill-slow-first-token", "first token after 3 s (`first_token_s` 0.5)"),
    Scenario("drill-slow-hedged", "first token after 3 s, hedged after 150 ms"),
    Scenario("drill-stall-before", "stall before the first chunk"),
    Scenario("drill-cut-before", "stream cut before the first chunk"),
    Scenario("drill-stall-after", "stall after 4 chunks (`idle_s` 0.5)", hits_stream="after the first byte"),
    Scenario("drill-cut-after", "stream cut after 4 chunks", hits_stream="after the first byte"),
    Scenario("drill-mixed", "50% mixed: 500, 429, reset, malformed JSON"),
    Scenario("chat", "route `chat`: healthy, flaky and cutting, weighted", hits_stream="before or after"),
    Scenario("outage", "every deployment down (route with safe mode)"),
]


@dataclass
class Result:
    seconds: float
    failed: bool
    safe_mode: bool
    error_event: bool


async def one(client: openai.AsyncOpenAI, route: str, stream: bool) -> Result:
    started = time.perf_counter()
    failed, safe_mode, error_event = True, False, False
    try:
        if stream:
            raw = await client.chat.completions.with_raw_response.create(model=route, messages=QUESTION, stream=True)
            safe_mode = "x-keel-safe-mode" in raw.headers
            finish = None
            async for chunk in raw.parse():
                if chunk.choices:
                    finish = finish or chunk.choices[0].finish_reason
            failed = finish is None
        else:
            raw_whole = await client.chat.completions.with_raw_response.create(model=route, messages=QUESTION)
            safe_mode = "x-keel-safe-mode" in raw_whole.headers
            failed = raw_whole.parse().choices[0].finish_reason is None
    except openai.APIError as exc:
        # A plain APIError is an error event inside a stream; status and connection errors are subclasses.
        error_event = type(exc) is openai.APIError
    return Result(time.perf_counter() - started, failed, safe_mode, error_event)


async def run(
    client: openai.AsyncOpenAI, routes: list[str], stream: bool, n: int, concurrency: int
) -> list[list[Result]]:
    """``n`` requests to each route, interleaved, so that all of them meet the same load on this machine."""
    slots = asyncio.Semaphore(concurrency)

    async def limited(route: str) -> Result:
        async with slots:
            return await one(client, route, stream)

    results = await asyncio.gather(*(limited(route) for _ in range(n) for route in routes))
    return [list(results[i :: len(routes)]) for i in range(len(routes))]


def p50_ms(results: list[Result]) -> float:
    return statistics.median(r.seconds for r in results) * 1000


def outcome(results: list[Result]) -> str:
    failed = [r for r in results if r.failed]
    text = f"{len(failed)}/{len(results)}"
    events = sum(r.error_event for r in failed)
    if events:
        text += f" ({events} error events)" if events < len(failed) else " (error events)"
    safe = sum(r.safe_mode for r in results)
    if safe:
        text += f", {safe} safe-mode answers"
    return text


async def table(base_url: str, n: int, concurrency: int) -> str:
    async with openai.AsyncOpenAI(base_url=base_url, api_key="none", max_retries=0, timeout=60) as client:
        await run(client, ["baseline"], False, concurrency, concurrency)  # warm up connections
        baseline = {s: p50_ms((await run(client, ["baseline"], s, n, concurrency))[0]) for s in (False, True)}
        lines = [
            f"Baseline (`baseline` route, the healthy upstream alone): p50 {baseline[False]:.0f} ms whole, "
            f"{baseline[True]:.0f} ms streamed. Each row: {n} requests, interleaved with {n} to `baseline`, "
            f"{concurrency} at a time; added latency is the difference of their medians.",
            "",
            "| fault | request | where it hits | client errors | added latency p50 |",
            "|---|---|---|---|---|",
        ]
        for scenario in SCENARIOS:
            for stream in (False, True):
                results, paired = await run(client, [scenario.route, "baseline"], stream, n, concurrency)
                added = round(p50_ms(results) - p50_ms(paired))
                hits = scenario.hits_stream if stream else scenario.hits_whole
                kind = "stream" if stream else "whole"
                lines.append(f"| {scenario.fault} | {kind} | {hits} | {outcome(results)} | {added:+d} ms |")
    return "\n".join(lines)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def process(args: list[str], *, cwd: str, env: dict[str, str], ready_url: str) -> Iterator[None]:
    log = Path(cwd) / f"{args[0]}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([*KEEL, *args], cwd=cwd, env={**os.environ, **env}, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"keel {args[0]} exited with {proc.returncode}:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(ready_url, timeout=1) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.1)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=40, help="whole requests and streams per row (each)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--config", type=Path, default=ROOT / "examples" / "resilience.yaml")
    args = parser.parse_args()
    sim_port, port = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="keel-fault-table-") as workdir:
        sim = f"http://127.0.0.1:{sim_port}"
        gateway = f"http://127.0.0.1:{port}"
        with (
            process(["simulate", "--port", str(sim_port)], cwd=workdir, env={}, ready_url=f"{sim}/healthz"),
            process(
                ["serve", "--config", str(args.config.resolve()), "--port", str(port)],
                cwd=workdir,
                env={"SIM_BASE": f"{sim}/v1"},
                ready_url=f"{gateway}/readyz",
            ),
        ):
            print(asyncio.run(table(f"{gateway}/v1", args.requests, args.concurrency)))


if __name__ == "__main__":
    main()
