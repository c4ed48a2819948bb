"""What one upstream call costs in the gateway's process: Keel's HTTP client against aiohttp's.

Each client sends the same small chat completion, one call at a time, to the simulated upstream
(``keel simulate``, 0 ms latency, on core 0) from this process (on core 1), and the CPU time this
process spent per call is read from the OS; wall time per call is reported too. Rounds alternate
between the clients. Usage (from the repository root):

    .venv/bin/python bench/upstream_client.py [--calls 3000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import aiohttp
import run as harness
import uvloop

from keel.providers.transport import HttpClient

HEADERS = {"content-type": "application/json"}


async def _aiohttp(url: str, body: bytes, calls: int) -> None:
    connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=5)
    async with aiohttp.ClientSession(connector=connector, skip_auto_headers=("User-Agent",)) as session:
        for _ in range(calls):
            async with session.request("POST", url, data=body, headers=HEADERS, timeout=timeout) as resp:
                await resp.read()


async def _keel(url: str, body: bytes, calls: int) -> None:
    client = HttpClient()
    try:
        for _ in range(calls):
            async with client.request("POST", url, HEADERS, body, connect_timeout_s=5) as resp:
                await resp.read()
    finally:
        await client.aclose()


CLIENTS = {"aiohttp": _aiohttp, "keel": _keel}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=3000, help="calls per client per round (default 3000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    args = parser.parse_args()
    os.sched_setaffinity(0, {int(harness.GATEWAY_CORE)})
    port, _ = harness.start_simulator()
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    body = harness.body_of(harness.MODELS[0], False).encode()
    cpu: dict[str, list[float]] = {name: [] for name in CLIENTS}
    wall: dict[str, list[float]] = {name: [] for name in CLIENTS}
    try:
        for run in CLIENTS.values():  # warm-up: connections open, code paths hot
            uvloop.run(run(url, body, 200))
        for _ in range(args.rounds):
            for name, run in CLIENTS.items():
                cpu0, wall0 = time.process_time(), time.perf_counter()
                uvloop.run(run(url, body, args.calls))
                cpu[name].append((time.process_time() - cpu0) / args.calls * 1e6)
                wall[name].append((time.perf_counter() - wall0) / args.calls * 1e6)
    finally:
        harness.stop_all()
    print(f"{args.rounds} rounds of {args.calls} sequential calls; median over rounds (min-max)")
    for name in CLIENTS:
        c, w = cpu[name], wall[name]
        print(
            f"{name:8s} CPU {statistics.median(c):6.1f} µs/call ({min(c):.1f}-{max(c):.1f})"
            f"   wall {statistics.median(w):6.1f} µs/call ({min(w):.1f}-{max(w):.1f})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
