"""What cost control costs: Keel's throughput and overhead with rate limits, budgets and the exact cache on.

Run from the repository root with Keel's virtualenv, on a quiet machine (Redis on 127.0.0.1:6379 for
the shared-counter variant)::

    .venv/bin/python bench/cost.py            # about 6 minutes
    .venv/bin/python bench/cost.py --quick    # smoke run, about 1 minute

Targets, each its own ``keel serve`` on the gateway core, against the same simulated upstream:

* ``direct``: the upstream itself, no gateway;
* ``keel``: Keel as in bench/run.py (auth, request log, metrics), no cost controls;
* ``keel-limits``: plus a route rate limit (requests and tokens), a hard-stop global budget and a
  route budget, on the in-process hot store — every request is admitted, reserved and settled;
* ``keel-limits-redis``: the same with the counters in Redis (what N replicas would share);
* ``keel-cache``: plus the exact cache on the route — after the first request every answer is a hit;
* ``keel-semantic``: limits and budgets plus the semantic cache alone (hashing embedder) — every request
  after the first is embedded, looked up and answered as a semantic hit.

Limits are set high enough never to refuse. Targets take turns in rotating order, several rounds per
cell, with the measurement machinery of bench/run.py (CPU read at the window's edges, noisy rounds
repeated). Results go to bench/COST.md and bench/out/cost.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as harness  # bench/run.py

BASE = """\
version: 1
server: {host: 127.0.0.1, workers: 1}
storage: {data_dir: DIR/data, database_url: "sqlite:///DIR/keel.db"}
HOT
BUDGETS
routes:
  bench-0ms: {deployments: [sim-0ms] ROUTE_EXTRA}
  bench-50ms: {deployments: [sim-50ms] ROUTE_EXTRA}
deployments:
  sim-0ms:
    provider: openai-compatible
    api_base: http://127.0.0.1:SIM_PORT/v1
    model: bench-0ms
    price: {input_per_mtok: 0.15, output_per_mtok: 0.6}
  sim-50ms:
    provider: openai-compatible
    api_base: http://127.0.0.1:SIM_PORT/v1
    model: bench-50ms
    price: {input_per_mtok: 0.15, output_per_mtok: 0.6}
"""
LIMITS = ", rate_limit: {rpm: 100000000, tpm: 1000000000}"
BUDGET_LINES = """\
budgets:
  - {name: everything, scope: global, period: month, limit_usd: 1000000}
  - {name: bench, scope: route, target: bench-0ms, period: day, limit_usd: 100000, alert_at: [0.9]}
"""

VARIANTS: dict[str, dict[str, str]] = {
    "keel": {"HOT": "", "BUDGETS": "", "ROUTE_EXTRA": ""},
    "keel-limits": {"HOT": "hot_store: {backend: memory}", "BUDGETS": BUDGET_LINES, "ROUTE_EXTRA": LIMITS},
    "keel-limits-redis": {
        "HOT": "hot_store: {backend: redis, redis_url: 'redis://127.0.0.1:6379/0', key_prefix: PREFIX}",
        "BUDGETS": BUDGET_LINES,
        "ROUTE_EXTRA": LIMITS,
    },
    "keel-cache": {
        "HOT": "hot_store: {backend: memory}\ncache_store: {backend: memory}",
        "BUDGETS": BUDGET_LINES,
        "ROUTE_EXTRA": LIMITS + ", cache: {enabled: true, ttl_s: 3600}",
    },
    "keel-semantic": {
        "HOT": "hot_store: {backend: memory}\nsemantic_cache: {embedder: hashing}",
        "BUDGETS": BUDGET_LINES,
        "ROUTE_EXTRA": LIMITS + ", semantic_cache: {ttl_s: 3600}",
    },
}


def config_text(variant: str, directory: Path, sim_port: int) -> str:
    text = BASE
    for name, value in VARIANTS[variant].items():
        text = text.replace(name, value)
    prefix = f"bench{secrets.token_hex(3)}"
    return text.replace("DIR", str(directory)).replace("SIM_PORT", str(sim_port)).replace("PREFIX", prefix)


def launch(variant: str, sim_port: int, work: Path) -> harness.Target:
    directory = work / variant
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "keel.yaml"
    config.write_text(config_text(variant, directory, sim_port))
    token = "sk-keel-admin-" + secrets.token_hex(16)
    port = harness.free_port()
    proc = harness.start(
        variant,
        [str(harness.KEEL), "serve", "--config", str(config), "--port", str(port), "--workers", "1"],
        harness.GATEWAY_CORE,
        env={"KEEL_ADMIN_KEY": token, "KEEL_LOG_LEVEL": "WARNING"},
        cwd=directory,
    )
    harness.wait_healthy(proc, port, "/readyz", 120)
    harness.check_target(variant, port, token)
    return harness.Target(variant, port, token, proc, directory)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 round of 1.5 s per cell")
    parser.add_argument("--rounds", type=int, help="rounds per cell (default 3; quick 1)")
    parser.add_argument("--duration", type=float, help="counted seconds per round (default 4; quick 1.5)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--out", type=Path, default=harness.BENCH / "COST.md")
    args = parser.parse_args(argv)
    rounds = args.rounds or (1 if args.quick else 3)
    duration = args.duration or (1.5 if args.quick else 4.0)
    warmup = 0.5 if args.quick else 1.0
    os.sched_setaffinity(0, {int(harness.LOAD_CORE)})
    signal.signal(signal.SIGTERM, harness._on_signal)
    harness.OUT.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="keel-bench-cost-"))
    began = time.perf_counter()
    try:
        results = _run(args, rounds, duration, warmup, work)
    finally:
        harness.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    results["elapsed_s"] = time.perf_counter() - began
    (harness.OUT / "cost.json").write_text(json.dumps(results, indent=1, default=str))
    args.out.write_text(report(results))
    print(f"\nwrote {args.out} in {results['elapsed_s'] / 60:.1f} min")
    return 0


def _run(args: argparse.Namespace, rounds: int, duration: float, warmup: float, work: Path) -> dict[str, Any]:
    sim_port, sim = harness.start_simulator()
    targets: dict[str, harness.Target] = {"direct": harness.Target("direct", sim_port, "sk-bench-direct", sim)}
    for variant in VARIANTS:
        targets[variant] = launch(variant, sim_port, work)
        print(f"{variant} on :{targets[variant].port}", flush=True)
    order = list(targets)
    for name in order:  # warm-up
        harness.measure(targets[name], sim, 16, False, 0, 0.5 if args.quick else 1.5, 0.0)
    cells = [harness.Cell(c, False, latency) for latency in (0, 50) for c in args.concurrency]
    total, done = len(cells) * rounds * len(order), 0
    for index, cell in enumerate(cells):
        for r in range(rounds):
            shift = (index + r) % len(order)
            for name in order[shift:] + order[:shift]:
                run = harness.measure(targets[name], sim, cell.concurrency, False, cell.latency_ms, duration, warmup)
                if run.noise > harness.NOISE_LIMIT and not args.quick:
                    again = harness.measure(
                        targets[name], sim, cell.concurrency, False, cell.latency_ms, duration, warmup
                    )
                    run = again if again.noise < run.noise else run
                cell.runs.setdefault(name, []).append(run)
                done += 1
                rate = run.ok / max(run.duration_s, 1e-9)
                print(f"[{done:3d}/{total}] {cell.key:<16} {name:<18} {rate:8.1f} req/s", flush=True)
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": ".venv/bin/python bench/cost.py " + " ".join(sys.argv[1:]),
        "machine": harness.machine(),
        "settings": {"rounds": rounds, "duration_s": duration, "warmup_s": warmup},
        "cells": [{"key": cell.key, "targets": {name: cell.summary(name) for name in order}} for cell in cells],
    }


def _fmt(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def report(results: dict[str, Any]) -> str:
    lines = [
        "# Cost controls: throughput and overhead",
        "",
        f"Measured {results['date']} with `{results['command'].strip()}` "
        f"({results['settings']['rounds']} rounds of {results['settings']['duration_s']} s per cell and target, "
        "non-streaming, targets interleaved). See the docstring of bench/cost.py for what each target runs.",
        "",
    ]
    for cell in results["cells"]:
        targets = cell["targets"]
        base = targets["keel"]
        lines += [
            f"## {cell['key']}",
            "",
            "| target | req/s | vs keel | p50 ms | p99 ms | Keel CPU ms/req | errors |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for name, row in targets.items():
            ratio = row["rps"] / base["rps"] if base["rps"] else None
            cpu = None if name == "direct" else row["cpu_ms_per_req"]
            lines.append(
                f"| {name} | {_fmt(row['rps'])} | {_fmt(ratio, 2)}x | {_fmt(row['p50_ms'], 2)} | "
                f"{_fmt(row['p99_ms'], 2)} | {_fmt(cpu, 3)} | {row['errors']} |"
            )
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
