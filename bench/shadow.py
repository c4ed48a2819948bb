"""What shadow traffic costs the client: latency with every request mirrored to a slow candidate, and without.

Run from the repository root with Keel's virtualenv, on a quiet machine::

    .venv/bin/python bench/shadow.py            # about 4 minutes
    .venv/bin/python bench/shadow.py --quick    # smoke run, under a minute

Three ``keel serve`` processes on the gateway core, against the same simulated upstream (the
``bench-50ms`` model, answering after 50 ms):

* ``keel``: the route as it is;
* ``keel-shadow``: the same route with ``shadow: {candidate: …, share: 1.0}``, the candidate being a
  deployment on the same upstream whose model answers after 200 ms (``sim:ttft=200``) — four times
  slower than the live one, so that a client waiting for it would show at once. ``max_in_flight`` is
  raised so that every request is mirrored: the worst case;
* ``keel-shadow-10%``: the same candidate at ``share: 0.1`` and the default ``max_in_flight``.

Targets take turns in rotating order, several rounds per cell, with the measurement machinery of
bench/run.py (CPU read at the window's edges, noisy rounds repeated). After the run, the shadow
target's database says how many requests were mirrored. Results go to bench/SHADOW.md and
bench/out/shadow.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as harness  # bench/run.py

CANDIDATE_MODEL = "sim:ttft=200,tokens=16"
ROUTE = "bench-50ms"
CONFIG = """\
version: 1
server: {host: 127.0.0.1, workers: 1}
storage: {data_dir: DIR/data, database_url: "sqlite:///DIR/keel.db"}
routes:
  bench-0ms: {deployments: [sim-0ms]}
  bench-50ms: {deployments: [sim-50ms] SHADOW}
deployments:
  sim-0ms: {provider: openai-compatible, api_base: "http://127.0.0.1:SIM_PORT/v1", model: bench-0ms}
  sim-50ms:
    provider: openai-compatible
    api_base: http://127.0.0.1:SIM_PORT/v1
    model: bench-50ms
    price: {input_per_mtok: 2.5, output_per_mtok: 10}
  candidate:
    provider: openai-compatible
    api_base: http://127.0.0.1:SIM_PORT/v1
    model: "CANDIDATE_MODEL"
    price: {input_per_mtok: 0.15, output_per_mtok: 0.6}
"""
# Each gateway logs its full (oldest-generation) garbage collections, when and how long: they stop the event
# loop, and how often they run depends on how many objects the requests in flight keep alive.
GC_WATCH = """\
import gc
import os
import time

_log = os.environ.get("KEEL_BENCH_GC_LOG")
_began = [0.0]


def _watch(phase, info):
    if phase == "start":
        _began[0] = time.perf_counter()
    elif info["generation"] == 2:
        with open(_log, "a") as fh:
            fh.write(f"{time.time():.3f} {(time.perf_counter() - _began[0]) * 1000:.2f}\\n")


if _log:
    gc.callbacks.append(_watch)
"""
VARIANTS = {
    "keel": "",
    "keel-shadow": ", shadow: {candidate: candidate, share: 1.0, max_in_flight: 1000}",
    "keel-shadow-10%": ", shadow: {candidate: candidate, share: 0.1}",
}


def launch(variant: str, sim_port: int, work: Path) -> harness.Target:
    directory = work / variant
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "keel.yaml"
    text = CONFIG.replace("SHADOW", VARIANTS[variant]).replace("CANDIDATE_MODEL", CANDIDATE_MODEL)
    config.write_text(text.replace("DIR", str(directory)).replace("SIM_PORT", str(sim_port)))
    token = "sk-keel-admin-" + secrets.token_hex(16)
    port = harness.free_port()
    path = os.pathsep.join(p for p in (str(work / "gcwatch"), os.environ.get("PYTHONPATH")) if p)
    proc = harness.start(
        variant,
        [str(harness.KEEL), "serve", "--config", str(config), "--port", str(port), "--workers", "1"],
        harness.GATEWAY_CORE,
        env={
            "KEEL_ADMIN_KEY": token,
            "KEEL_LOG_LEVEL": "WARNING",
            "PYTHONPATH": path,
            "KEEL_BENCH_GC_LOG": str(directory / "gc.log"),
        },
        cwd=directory,
    )
    harness.wait_healthy(proc, port, "/readyz", 120)
    harness.check_target(variant, port, token)
    return harness.Target(variant, port, token, proc, directory)


def mirrored(target: harness.Target) -> dict[str, int]:
    """Requests the route answered and shadow results recorded, read from the target's database."""
    assert target.data_dir is not None
    with sqlite3.connect(target.data_dir / "keel.db") as db:
        answered = db.execute("SELECT count(*) FROM request_log WHERE route = ? AND status = 200", (ROUTE,))
        results = db.execute("SELECT count(*), count(error) FROM shadow_results WHERE route = ?", (ROUTE,))
        (requests,), (count, errors) = answered.fetchone(), results.fetchone()
    return {"answered": requests, "mirrored": count, "shadow_errors": errors}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 round of 1.5 s per cell")
    parser.add_argument("--rounds", type=int, help="rounds per cell (default 3; quick 1)")
    parser.add_argument("--duration", type=float, help="counted seconds per round (default 4; quick 1.5)")
    parser.add_argument("--out", type=Path, default=harness.BENCH / "SHADOW.md")
    args = parser.parse_args(argv)
    rounds = args.rounds or (1 if args.quick else 3)
    duration = args.duration or (1.5 if args.quick else 4.0)
    warmup = 0.5 if args.quick else 1.0
    os.sched_setaffinity(0, {int(harness.LOAD_CORE)})
    signal.signal(signal.SIGTERM, harness._on_signal)
    harness.OUT.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="keel-bench-shadow-"))
    began = time.perf_counter()
    try:
        results = _run(args, rounds, duration, warmup, work)
    finally:
        harness.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    results["elapsed_s"] = time.perf_counter() - began
    (harness.OUT / "shadow.json").write_text(json.dumps(results, indent=1, default=str))
    args.out.write_text(report(results))
    print(f"\nwrote {args.out} in {results['elapsed_s'] / 60:.1f} min")
    return 0


def _run(args: argparse.Namespace, rounds: int, duration: float, warmup: float, work: Path) -> dict[str, Any]:
    sim_port, sim = harness.start_simulator()
    (work / "gcwatch").mkdir()
    (work / "gcwatch" / "sitecustomize.py").write_text(GC_WATCH)
    targets = {variant: launch(variant, sim_port, work) for variant in VARIANTS}
    order = list(targets)
    for name in order:  # warm-up
        harness.measure(targets[name], sim, 16, False, 50, 0.5 if args.quick else 1.5, 0.0)
    cells = [harness.Cell(1, False, 50), harness.Cell(16, False, 50), harness.Cell(16, True, 50)]
    total, done = len(cells) * rounds * len(order), 0
    windows: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for index, cell in enumerate(cells):
        for r in range(rounds):
            shift = (index + r) % len(order)
            for name in order[shift:] + order[:shift]:
                began = time.time()
                run = harness.measure(targets[name], sim, cell.concurrency, cell.stream, 50, duration, warmup)
                window = (began, time.time())
                if run.noise > harness.NOISE_LIMIT and not args.quick:
                    began = time.time()
                    again = harness.measure(targets[name], sim, cell.concurrency, cell.stream, 50, duration, warmup)
                    if again.noise < run.noise:
                        run, window = again, (began, time.time())
                cell.runs.setdefault(name, []).append(run)
                windows.setdefault((cell.key, name), []).append(window)
                done += 1
                rate = run.ok / max(run.duration_s, 1e-9)
                print(f"[{done:3d}/{total}] {cell.key:<18} {name:<12} {rate:8.1f} req/s", flush=True)
    time.sleep(1.0)  # the last shadow calls (200 ms) finish and their results are written
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": ".venv/bin/python bench/shadow.py " + " ".join(sys.argv[1:]),
        "machine": harness.machine(),
        "settings": {"rounds": rounds, "duration_s": duration, "warmup_s": warmup, "candidate": CANDIDATE_MODEL},
        "cells": [
            {
                "key": cell.key,
                "targets": {
                    name: {**_summary(cell, name), **_full_gcs(targets[name], windows[(cell.key, name)])}
                    for name in order
                },
            }
            for cell in cells
        ],
        "shadow": {name: mirrored(targets[name]) for name in order if name != "keel"},
    }


def _summary(cell: harness.Cell, name: str) -> dict[str, Any]:
    """The harness's summary, plus the median over rounds of each round's p99: on a shared machine one noisy
    round decides the pooled p99, the median shows what a typical round saw."""
    rounds = [harness.percentile(run.latency, 99) for run in cell.runs.get(name, [])]
    known = sorted(p for p in rounds if p is not None)
    return {**cell.summary(name), "p99_round_median_ms": known[len(known) // 2] if known else None}


def _full_gcs(target: harness.Target, windows: list[tuple[float, float]]) -> dict[str, Any]:
    """The full garbage collections the target ran inside the cell's rounds: how many, and the longest."""
    assert target.data_dir is not None
    log = target.data_dir / "gc.log"
    events = [tuple(map(float, line.split())) for line in log.read_text().splitlines()] if log.exists() else []
    inside = [ms for at, ms in events if any(start <= at <= end for start, end in windows)]
    return {"full_gc": len(inside), "full_gc_max_ms": max(inside, default=None)}


def _fmt(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _delta(value: float | None, base: float | None) -> str:
    return "" if value is None or base is None else f"{value - base:+.2f}"


def report(results: dict[str, Any]) -> str:
    settings = results["settings"]
    lines = [
        "# Shadow traffic: the client's latency with requests mirrored to a slow candidate",
        "",
        f"Measured {results['date']} with `{results['command'].strip()}` ({settings['rounds']} round(s) of "
        f"{settings['duration_s']} s per cell and target, targets interleaved) on {results['machine']['cores']} "
        f"cores ({results['machine']['cpu_model']}). Live deployment: the `bench-50ms` simulated model (50 ms). "
        f"Candidate: `{settings['candidate']}` on the same upstream, 200 ms. See the docstring of bench/shadow.py.",
        "",
    ]
    for name, counts in results["shadow"].items():
        share = counts["mirrored"] / counts["answered"] if counts["answered"] else 0.0
        lines.append(
            f"- `{name}` mirrored {counts['mirrored']:,} of the {counts['answered']:,} requests its route answered "
            f"({share:.1%}; {counts['shadow_errors']:,} candidate errors)."
        )
    lines += [
        "",
        "Latency is what the client measured (for streams, to the last byte; TTFB to the first). p99 pools every "
        "round; *p99 rnd* is the median over rounds of each round's p99. *Full GCs* are the gateway's collections "
        "of its oldest generation during the rounds (the longest in brackets): each one stops its event loop. "
        "*Noise* is the mean share of a core that processes other than the benchmark's took during the rounds.",
        "",
    ]
    for cell in results["cells"]:
        targets = cell["targets"]
        base = targets["keel"]
        stream = "stream" in cell["key"]
        header = "| target | req/s | p50 ms | p99 ms | p99 rnd | Δp50 | Δp99 rnd |"
        header += " TTFB p50 | TTFB p99 |" if stream else ""
        rule = "|---|---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if stream else "")
        lines += [
            f"## {cell['key']}",
            "",
            header + " Keel CPU ms/req | full GCs | noise | errors |",
            rule + "---:|---:|---:|---:|",
        ]
        for name, row in targets.items():
            cells = [
                name,
                _fmt(row["rps"]),
                _fmt(row["p50_ms"], 2),
                _fmt(row["p99_ms"], 2),
                _fmt(row["p99_round_median_ms"], 2),
                _delta(row["p50_ms"], base["p50_ms"]),
                _delta(row["p99_round_median_ms"], base["p99_round_median_ms"]),
            ]
            if stream:
                cells += [_fmt(row["ttfb_p50_ms"], 2), _fmt(row["ttfb_p99_ms"], 2)]
            noise, longest = row["noise_mean"], row["full_gc_max_ms"]
            gcs = str(row["full_gc"]) + (f" ({longest:.0f} ms)" if longest is not None else "")
            cells += [
                _fmt(row["cpu_ms_per_req"], 3),
                gcs,
                "n/a" if noise is None else f"{noise:.0%}",
                str(row["errors"]),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
