"""Throughput and tail latency with one of three deployments failing half its requests.

Starts the simulated upstream and Keel (each its own process, pinned like bench/run.py: Keel on core
1, the upstream and the load generator on core 0), then drives two routes over the same three
simulated deployments in alternating rounds with bench/loadgen.py:

- ``healthy``: three healthy deployments, weighted evenly;
- ``one-failing``: the same, but one of them fails 50% of its requests with mixed faults (HTTP 500,
  429 with Retry-After, connection reset, malformed JSON). Keel fails over to the others; its circuit
  breaker may open on the failing one.

For concurrency 16 and 64, non-streaming and streaming, it reports requests/s, p50 and p99, client
errors (must be 0) and the ratio to the healthy route, and writes the table to bench/FAILOVER.md.

    .venv/bin/python bench/failover.py [--seconds 4] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
KEEL = [sys.executable, "-m", "keel.cli"]
LOADGEN = [sys.executable, str(HERE / "loadgen.py")]
ADMIN_KEY = "sk-bench-failover"
SECTION = "## One of three deployments failing 50% of its requests"
HEALTHY = "sim:ttft=50,tokens=16"
FAILING = (
    "sim:ttft=50,tokens=16,fault=server_error:0.15,fault=rate_limit:0.15:1,"
    "fault=connection_reset:0.1,fault=malformed_json:0.1"
)

CONFIG = """\
version: 1
storage: {{data_dir: {tmp}/data, database_url: "sqlite:///{tmp}/keel.db"}}
routes:
  healthy: {{deployments: [a, b, c], strategy: weighted}}
  one-failing: {{deployments: [a, b, bad], strategy: weighted, retries: {{budget_ratio: 1.0}}}}
deployments:
  a: {{provider: openai-compatible, api_base: "http://127.0.0.1:{sim}/v1", model: "{healthy}"}}
  b: {{provider: openai-compatible, api_base: "http://127.0.0.1:{sim}/v1", model: "{healthy}"}}
  c: {{provider: openai-compatible, api_base: "http://127.0.0.1:{sim}/v1", model: "{healthy}"}}
  bad: {{provider: openai-compatible, api_base: "http://127.0.0.1:{sim}/v1", model: "{failing}"}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(core: int, argv: list[str]) -> list[str]:
    return ["taskset", "-c", str(core), *argv] if shutil.which("taskset") else argv


def wait_up(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def percentile(histogram: Counter[str], q: float) -> float:
    total = sum(histogram.values())
    seen = 0
    for micros, count in sorted((int(k), v) for k, v in histogram.items()):
        seen += count
        if seen >= q * total:
            return micros / 1000
    return float("nan")


def drive(url: str, route: str, stream: bool, concurrency: int, seconds: float) -> dict[str, Any]:
    body = {"model": route, "messages": [{"role": "user", "content": "hello there"}], "stream": stream}
    argv = [*LOADGEN, "--url", f"{url}/v1/chat/completions", "--body", json.dumps(body), "--token", ADMIN_KEY]
    argv += ["-c", str(concurrency), "-d", str(seconds), "--warmup", "0.5"] + (["--stream"] if stream else [])
    out = subprocess.run(pinned(0, argv), capture_output=True, text=True, check=True).stdout
    result: dict[str, Any] = json.loads(out)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="counted seconds per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="keel-failover-"))
    sim_port, keel_port = free_port(), free_port()
    config = tmp / "keel.yaml"
    config.write_text(CONFIG.format(tmp=tmp, sim=sim_port, healthy=HEALTHY, failing=FAILING))
    env = {**os.environ, "KEEL_ADMIN_KEY": ADMIN_KEY, "KEEL_LOG_LEVEL": "WARNING"}
    procs = [
        subprocess.Popen(pinned(0, [*KEEL, "simulate", "--port", str(sim_port)]), cwd=tmp, env=env),
        subprocess.Popen(
            pinned(1, [*KEEL, "serve", "--config", str(config), "--port", str(keel_port)]), cwd=tmp, env=env
        ),
    ]
    try:
        wait_up(f"http://127.0.0.1:{sim_port}/healthz")
        url = f"http://127.0.0.1:{keel_port}"
        wait_up(f"{url}/readyz")
        rows = []
        for stream in (False, True):
            for concurrency in (16, 64):
                ok = {"healthy": 0, "one-failing": 0}
                errors = {"healthy": 0, "one-failing": 0}
                latency: dict[str, Counter[str]] = {"healthy": Counter(), "one-failing": Counter()}
                for round_ in range(args.rounds):
                    order = ("healthy", "one-failing") if round_ % 2 == 0 else ("one-failing", "healthy")
                    for route in order:
                        result = drive(url, route, stream, concurrency, args.seconds)
                        ok[route] += int(result["ok"])
                        errors[route] += int(result["error_count"])
                        latency[route].update(result["latency_us"])
                window = args.seconds * args.rounds
                for route in ("healthy", "one-failing"):
                    rps = ok[route] / window
                    rows.append(
                        f"| {'stream' if stream else 'whole'} | {concurrency} | {route} | {rps:,.0f} | "
                        f"{percentile(latency[route], 0.5):.1f} | {percentile(latency[route], 0.99):.1f} | "
                        f"{errors[route]} | {ok[route] / max(1, ok['healthy']):.2f} |"
                    )
        table = "\n".join(
            [
                SECTION,
                "",
                f"Generated by `.venv/bin/python bench/failover.py --seconds {args.seconds:g} --rounds {args.rounds}` "
                f"on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Three simulated deployments answering "
                "after 50 ms; on `one-failing` one of them fails 50% of its requests (500, 429 with Retry-After "
                "1 s, reset, malformed JSON). Keel on core 1; upstream and load generator on core 0; the routes "
                f"alternate, {args.rounds} rounds of {args.seconds:g} s each.",
                "",
                "| request | c | route | req/s | p50 ms | p99 ms | client errors | vs healthy |",
                "|---|---:|---|---:|---:|---:|---:|---:|",
                *rows,
                "",
            ]
        )
        print(table)
        (HERE / "FAILOVER.md").write_text("# Keel benchmark: failover under load\n\n" + table)
        return 0
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
