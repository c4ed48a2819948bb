"""Benchmark Keel against the direct upstream, the LiteLLM proxy and a bare aiohttp pass-through.

Run from the repository root with Keel's virtualenv::

    .venv/bin/python bench/run.py            # full run, about 20 minutes
    .venv/bin/python bench/run.py --quick    # smoke run, under 3 minutes

Everything runs in one invocation on this machine: the simulated upstream (``keel simulate``), Keel
(``keel serve``), the LiteLLM proxy (in its own virtualenv, bench/.venv-litellm, created on first use)
and bench/bare_proxy.py, each as its own process. Gateways run on core 1, the upstream and the load
generator on core 0; only one target is under load at a time, and targets take turns in rotating order,
several short rounds per cell. Results go to bench/RESULTS.md and bench/out/results.json.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"
PY = Path(sys.executable)
KEEL = PY.parent / "keel"
LITELLM_VENV = BENCH / ".venv-litellm"
LITELLM_PIN = "1.108.7"
LOAD_CORE = "0"  # the simulated upstream and the load generator
GATEWAY_CORE = "1"  # the gateway under test
TARGETS = ("direct", "keel", "litellm", "bare")
GATEWAYS = ("keel", "litellm", "bare")
MODELS = {0: "bench-0ms", 50: "bench-50ms"}
PROMPT = "Say hello to the benchmark."
REQUEST_TIMEOUT_S = 30.0
MAX_RESTARTS = 3  # gateways that die on their own are restarted this many times in all, then the run stops
NOISE_LIMIT = 0.10  # share of a core taken by foreign processes above which a round is repeated
RETRY_BUDGET = 0.15  # at most this many repeated rounds, as a share of all rounds

# ----------------------------------------------------------------------------------------------------------
# processes


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    started: float
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid


_PROCS: list[Proc] = []


def start(name: str, argv: list[str], core: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Proc:
    """Start ``argv`` pinned to ``core`` in its own session (so its children can be stopped with it)."""
    log = OUT / f"{name}.log"
    with open(log, "wb") as fh:
        started = time.perf_counter()
        popen = subprocess.Popen(
            ["taskset", "-c", core, *argv],
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=str(cwd or ROOT),
            start_new_session=True,
        )
    proc = Proc(name, popen, started, log)
    _PROCS.append(proc)
    return proc


def stop(proc: Proc, grace_s: float = 10.0) -> None:
    """SIGTERM the process's own group, then SIGKILL what is left after ``grace_s``."""
    if proc in _PROCS:
        _PROCS.remove(proc)
    if proc.popen.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.popen.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.popen.wait(timeout=5)
    # Children that outlived their parent keep the group id; the group is ours, so end it too.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def stop_all() -> None:
    for proc in list(reversed(_PROCS)):
        stop(proc, grace_s=5.0)


def _on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_simulator(name: str = "simulator") -> tuple[int, Proc]:
    """``keel simulate`` with bench/simulator.yaml on the load core, once it answers; its port and process."""
    port = free_port()
    argv = [
        str(KEEL),
        "simulate",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--config",
        str(BENCH / "simulator.yaml"),
    ]
    sim = start(name, argv, LOAD_CORE)
    wait_healthy(sim, port, "/healthz", 60)
    return port, sim


def log_tail(proc: Proc, lines: int = 30) -> str:
    try:
        text = proc.log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


# ----------------------------------------------------------------------------------------------------------
# /proc


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2 :].split()
        tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


def tree_pids(pid: int) -> list[int]:
    tree = _children()
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(tree.get(current, ()))
    return out


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime+stime of the process and all its descendants (live ones, plus reaped ones via cutime/cstime)."""
    total = 0
    for p in tree_pids(pid):
        try:
            with open(f"/proc/{p}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2 :].split()
        total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return total / _TICK


def memory_kib(pid: int, key: str) -> int:
    """Sum of ``key`` (VmRSS or VmHWM) over the process and its descendants, in KiB."""
    total = 0
    for p in tree_pids(pid):
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith(key + ":"):
                        total += int(line.split()[1])
                        break
        except OSError:
            continue
    return total


# ----------------------------------------------------------------------------------------------------------
# HTTP helpers (setup and checks only; load comes from wrk and loadgen.py)


def http_request(
    port: int, method: str, path: str, body: bytes | None = None, token: str | None = None, timeout: float = 5.0
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_healthy(proc: Proc, port: int, path: str, deadline_s: float) -> float:
    """Seconds from process start to the first 200 on ``path``; raises if the process dies or time runs out."""
    end = time.perf_counter() + deadline_s
    while time.perf_counter() < end:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{log_tail(proc)}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            status, _ = http_request(port, "GET", path, timeout=1.0)
            if status == 200:
                return time.perf_counter() - proc.started
        time.sleep(0.02)
    raise RuntimeError(f"{proc.name} not healthy on :{port}{path} within {deadline_s:.0f}s:\n{log_tail(proc)}")


def body_of(model: str, stream: bool) -> str:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": PROMPT}], "max_tokens": 16}
    if stream:
        body["stream"] = True
    return json.dumps(body, separators=(",", ":"))


def check_target(name: str, port: int, token: str | None) -> None:
    """One plain and one streamed answer from each model, checked for shape, before any load."""
    for model in MODELS.values():
        status, raw = http_request(port, "POST", "/v1/chat/completions", body_of(model, False).encode(), token, 30)
        if status != 200:
            raise RuntimeError(f"{name}: {model} answered {status}: {raw[:500]!r}")
        answer = json.loads(raw)
        if not answer["choices"][0]["message"]["content"]:
            raise RuntimeError(f"{name}: {model} answered with no content: {raw[:500]!r}")
        status, raw = http_request(port, "POST", "/v1/chat/completions", body_of(model, True).encode(), token, 30)
        if status != 200 or b"data: [DONE]" not in raw or b'"delta"' not in raw:
            raise RuntimeError(f"{name}: {model} stream answered {status}: {raw[:500]!r}")


# ----------------------------------------------------------------------------------------------------------
# load


@dataclass
class Target:
    name: str
    port: int
    token: str | None
    proc: Proc  # whose CPU is charged to the target: the gateway, or the simulator for `direct`
    data_dir: Path | None = None  # Keel's storage directory

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/chat/completions"


@dataclass
class Run:
    ok: int
    errors: dict[str, int]
    duration_s: float
    latency: list[tuple[float, float]]  # (microseconds, weight)
    ttfb: list[tuple[float, float]] | None
    cpu_s: float
    upstream_cpu_s: float
    loadgen_cpu_s: float
    foreign_s: dict[str, float]  # CPU seconds that processes other than ours took on each core in the window
    sample_error: str = ""
    attempts: int = 1

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def noise(self) -> float:
        """The larger share of a core that other processes (or the hypervisor) took during the window."""
        if self.duration_s <= 0:
            return 0.0
        return max(self.foreign_s.values(), default=0.0) / self.duration_s


def _communicate(argv: list[str], env: dict[str, str], hard_timeout_s: float) -> str:
    popen = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env={**os.environ, **env}
    )
    try:
        out, err = popen.communicate(timeout=hard_timeout_s)
    except BaseException:
        popen.kill()
        popen.wait()
        raise
    if popen.returncode != 0:
        raise RuntimeError(f"{argv[2:4]} exited {popen.returncode}: {err.decode(errors='replace')[-2000:]}")
    return out.decode(errors="replace")


def run_wrk(target: Target, body: str, concurrency: int, duration_s: int) -> dict[str, Any]:
    """Throughput from wrk, as a cross-check of loadgen.py (wrk's own latency figures are corrected for
    coordinated omission, so they are not comparable with closed-loop latencies and are not used)."""
    argv = [
        "taskset", "-c", LOAD_CORE, "wrk", "-t1", f"-c{concurrency}", f"-d{max(1, int(duration_s))}s",
        f"--timeout={int(REQUEST_TIMEOUT_S)}s", "-s", str(BENCH / "wrk_post.lua"), target.url,
    ]  # fmt: skip
    out = _communicate(argv, {"BENCH_BODY": body, "BENCH_TOKEN": target.token or ""}, duration_s + 60)
    line = next((ln for ln in out.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{out[-2000:]}")
    raw = json.loads(line[len("BENCH_JSON ") :])
    errors = {k: v for k, v in raw["errors"].items() if v}
    return {
        "ok": raw["requests"] - raw["errors"]["status"],
        "errors": errors,
        "duration_s": raw["duration_us"] / 1e6,
    }


def run_loadgen(
    target: Target,
    body: str,
    concurrency: int,
    duration_s: float,
    stream: bool,
    requests: int | None = None,
    warmup_s: float = 0.0,
    on_mark: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run bench/loadgen.py on the load core; ``on_mark`` is called at the start and end of its window."""
    argv = [
        "taskset", "-c", LOAD_CORE, str(PY), str(BENCH / "loadgen.py"), "--url", target.url, "--body", body,
        "-c", str(concurrency), "-d", str(duration_s), "--warmup", str(warmup_s),
        "--timeout", str(REQUEST_TIMEOUT_S),
    ]  # fmt: skip
    if stream:
        argv.append("--stream")
    if target.token:
        argv += ["--token", target.token]
    if requests is not None:
        argv += ["--requests", str(requests)]
    if on_mark is not None:
        argv.append("--marks")
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile(suffix=".json") as result:
        argv += ["--out", result.name]
        popen = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, text=True)
        watchdog = threading.Timer(warmup_s + duration_s + 60, popen.kill)
        watchdog.start()
        try:
            assert popen.stdout is not None
            for line in popen.stdout:  # ends when the load generator exits (or the watchdog kills it)
                mark = line.strip()
                if mark in ("WINDOW_START", "WINDOW_END") and on_mark is not None:
                    on_mark(mark)
            popen.wait()
        finally:
            watchdog.cancel()
            if popen.poll() is None:
                popen.kill()
                popen.wait()
        text = Path(result.name).read_text()
        if popen.returncode != 0 or not text:
            err.seek(0)
            raise RuntimeError(f"loadgen.py exited {popen.returncode}: {err.read().decode(errors='replace')[-2000:]}")
    raw = json.loads(text)
    return {
        "ok": raw["ok"],
        "errors": raw["errors"],
        "duration_s": raw["duration_s"],
        "latency": [(float(k), float(v)) for k, v in raw["latency_us"].items()],
        "ttfb": [(float(k), float(v)) for k, v in raw["ttfb_us"].items()],
        "sample_error": raw["sample_error"],
        "loadgen_cpu_s": raw["loadgen_cpu_s"],
    }


def measure(
    target: Target, sim: Proc, concurrency: int, stream: bool, latency_ms: int, duration_s: float, warmup_s: float
) -> Run:
    """One round for one target: CPU of the gateway and of the simulator is read exactly at the window's edges."""
    body = body_of(MODELS[latency_ms], stream)
    edges: dict[str, tuple[float, float, dict[int, float]]] = {}

    def on_mark(mark: str) -> None:
        edges[mark] = (cpu_seconds(target.proc.pid), cpu_seconds(sim.pid), core_busy())

    raw = run_loadgen(target, body, concurrency, duration_s, stream, warmup_s=warmup_s, on_mark=on_mark)
    for mark in ("WINDOW_START", "WINDOW_END"):  # missing when the load generator gave up early
        if mark not in edges:
            on_mark(mark)
    (cpu0, up0, busy0), (cpu1, up1, busy1) = edges["WINDOW_START"], edges["WINDOW_END"]
    load, gateway = int(LOAD_CORE), int(GATEWAY_CORE)
    # For `direct` the target's process is the simulator itself, already counted on the load core.
    ours = {
        load: (up1 - up0) + raw["loadgen_cpu_s"],
        gateway: 0.0 if target.name == "direct" else cpu1 - cpu0,
    }
    foreign = {f"core{c}": max(0.0, busy1.get(c, 0.0) - busy0.get(c, 0.0) - ours[c]) for c in (load, gateway)}
    return Run(
        ok=raw["ok"],
        errors=raw["errors"],
        duration_s=raw["duration_s"],
        latency=raw["latency"],
        ttfb=raw["ttfb"] if stream else None,
        cpu_s=cpu1 - cpu0,
        upstream_cpu_s=up1 - up0,
        loadgen_cpu_s=raw["loadgen_cpu_s"],
        foreign_s=foreign,
        sample_error=raw["sample_error"],
    )


def core_busy() -> dict[int, float]:
    """Busy seconds per core from /proc/stat: user, nice, system and steal (time the hypervisor took).

    irq and softirq time is left out: loopback networking runs there and belongs to no process.
    """
    busy: dict[int, float] = {}
    with open("/proc/stat") as fh:
        for line in fh:
            if line.startswith("cpu") and line[3].isdigit():
                fields = line.split()
                v = [int(x) for x in fields[1:9]]
                busy[int(fields[0][3:])] = (v[0] + v[1] + v[2] + v[7]) / _TICK
    return busy


def percentile(sketch: list[tuple[float, float]], q: float) -> float | None:
    """The q-th percentile (0..100) of weighted samples, in milliseconds."""
    if not sketch:
        return None
    items = sorted(sketch)
    total = sum(w for _, w in items)
    if total <= 0:
        return None
    threshold = total * q / 100.0
    seen = 0.0
    for value, weight in items:
        seen += weight
        if seen >= threshold - 1e-9:
            return value / 1000.0
    return items[-1][0] / 1000.0


@dataclass
class Cell:
    concurrency: int
    stream: bool
    latency_ms: int
    runs: dict[str, list[Run]] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"c{self.concurrency}-{'stream' if self.stream else 'plain'}-{self.latency_ms}ms"

    def summary(self, name: str) -> dict[str, Any]:
        runs = self.runs.get(name, [])
        ok = sum(r.ok for r in runs)
        errors = sum(r.error_count for r in runs)
        duration = sum(r.duration_s for r in runs)
        latency = [s for r in runs for s in r.latency]
        ttfb = [s for r in runs for s in (r.ttfb or [])]
        handled = ok + errors
        rates = [r.ok / r.duration_s for r in runs if r.duration_s > 0]
        core0 = [(r.upstream_cpu_s + r.loadgen_cpu_s) / r.duration_s for r in runs if r.duration_s > 0]
        noise = [r.noise for r in runs]
        return {
            "rounds": len(runs),
            "ok": ok,
            "errors": errors,
            "error_kinds": _merge_errors(runs),
            "sample_error": next((r.sample_error for r in runs if r.sample_error), ""),
            "rps": ok / duration if duration else 0.0,
            "rps_min": min(rates) if rates else 0.0,
            "rps_max": max(rates) if rates else 0.0,
            "p50_ms": percentile(latency, 50),
            "p99_ms": percentile(latency, 99),
            "ttfb_p50_ms": percentile(ttfb, 50) if self.stream else None,
            "ttfb_p99_ms": percentile(ttfb, 99) if self.stream else None,
            "cpu_ms_per_req": 1000 * sum(r.cpu_s for r in runs) / handled if handled else None,
            "upstream_cpu_ms_per_req": 1000 * sum(r.upstream_cpu_s for r in runs) / handled if handled else None,
            "loadgen_cpu_ms_per_req": 1000 * sum(r.loadgen_cpu_s for r in runs) / handled if handled else None,
            "core0_busy_max": max(core0) if core0 else None,
            "noise_mean": sum(noise) / len(noise) if noise else None,
            "noise_max": max(noise) if noise else None,
            "attempts": sum(r.attempts for r in runs),
        }


def _merge_errors(runs: list[Run]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for r in runs:
        for k, v in r.errors.items():
            merged[k] = merged.get(k, 0) + v
    return merged


# ----------------------------------------------------------------------------------------------------------
# the pieces under test


def keel_version() -> str:
    from importlib.metadata import version

    return version("keel")


def ensure_litellm(log: list[str]) -> tuple[Path, str]:
    """bench/.venv-litellm with litellm[proxy] pinned; created on first use. Returns (litellm binary, version)."""
    py = LITELLM_VENV / "bin" / "python"
    binary = LITELLM_VENV / "bin" / "litellm"

    def installed() -> str | None:
        if not binary.exists():
            return None
        probe = subprocess.run(
            [str(py), "-c", "from importlib.metadata import version; print(version('litellm'))"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        return probe.stdout.strip() if probe.returncode == 0 else None

    current = installed()
    if current == LITELLM_PIN:
        return binary, current
    if not py.exists():
        print(f"creating {LITELLM_VENV.relative_to(ROOT)} ...", flush=True)
        subprocess.run([str(PY), "-m", "venv", str(LITELLM_VENV)], check=True, timeout=300)
    print(f"installing litellm[proxy]=={LITELLM_PIN} from PyPI (first run only; a few minutes) ...", flush=True)
    pip = [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    pinned = subprocess.run([*pip, f"litellm[proxy]=={LITELLM_PIN}"], timeout=1800)
    if pinned.returncode != 0:
        log.append(f"litellm {LITELLM_PIN} could not be installed; the newest available release was used instead")
        subprocess.run([*pip, "litellm[proxy]"], check=True, timeout=1800)
    current = installed()
    if current is None:
        raise RuntimeError("litellm did not install into bench/.venv-litellm")
    if current != LITELLM_PIN:
        log.append(f"LiteLLM {current} was benchmarked (the pin {LITELLM_PIN} was not available)")
    return binary, current


def pip_version(venv_python: Path, package: str) -> str:
    probe = subprocess.run(
        [str(venv_python), "-c", f"from importlib.metadata import version; print(version({package!r}))"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return probe.stdout.strip() or "?"


def ensure_wrk(notes: list[str]) -> str:
    if shutil.which("wrk") is None:
        print("wrk is missing: installing the Debian package (apt-get install wrk) ...", flush=True)
        subprocess.run(["apt-get", "update", "-qq"], check=False, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, timeout=600)
        notes.append("wrk was installed by the harness (Debian package `wrk`).")
    probe = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=30)
    text = (probe.stdout + probe.stderr).strip().split()
    return f"wrk {text[1].removeprefix('debian/')}" if len(text) > 1 else "wrk"


@dataclass
class Startup:
    healthy_s: float
    first_answer_s: float


def first_answer(name: str, proc: Proc, port: int, token: str | None, deadline_s: float = 60.0) -> float:
    end = time.perf_counter() + deadline_s
    body = body_of(MODELS[0], False).encode()
    last = ""
    while time.perf_counter() < end:
        with contextlib.suppress(OSError, http.client.HTTPException):
            status, raw = http_request(port, "POST", "/v1/chat/completions", body, token, timeout=10)
            if status == 200:
                return time.perf_counter() - proc.started
            last = f"{status} {raw[:300]!r}"
        time.sleep(0.02)
    raise RuntimeError(f"{name} gave no answer within {deadline_s:.0f}s (last: {last}):\n{log_tail(proc)}")


# ----------------------------------------------------------------------------------------------------------
# the run


def machine() -> dict[str, Any]:
    model = "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with contextlib.suppress(OSError), open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    return {
        "cores": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 1 round of 1.5 s per cell, small RSS phase, no wrk cross-check"
    )
    parser.add_argument("--duration", type=float, help="counted seconds per round per target (default 4; quick 1.5)")
    parser.add_argument(
        "--warmup", type=float, help="uncounted seconds before each round's window (default 1; quick 0.5)"
    )
    parser.add_argument("--rounds", type=int, help="rounds per cell (default 4; quick 1)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64], help="default: 1 16 64")
    parser.add_argument(
        "--rss-requests", type=int, nargs=2, metavar=("FIRST", "SECOND"),
        help="Keel RSS is read after FIRST and SECOND requests (default 10000 100000; quick 1000 10000)",
    )  # fmt: skip
    parser.add_argument("--skip-litellm", action="store_true", help="leave LiteLLM out (its ratios show n/a)")
    parser.add_argument("--out", type=Path, default=BENCH / "RESULTS.md", help="the report (default bench/RESULTS.md)")
    args = parser.parse_args(argv)
    duration = args.duration or (1.5 if args.quick else 4.0)
    warmup = args.warmup if args.warmup is not None else (0.5 if args.quick else 1.0)
    rounds = args.rounds or (1 if args.quick else 4)
    rss_first, rss_second = args.rss_requests or ((1000, 10_000) if args.quick else (10_000, 100_000))
    if os.cpu_count() is None or os.cpu_count() < 2:  # type: ignore[operator]
        print("needs at least 2 cores (core 0: upstream and load generator, core 1: gateway)", file=sys.stderr)
        return 2

    # The harness itself stays off the gateway's core.
    os.sched_setaffinity(0, {int(LOAD_CORE)})
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    OUT.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="keel-bench-"))
    began = time.perf_counter()
    try:
        results = _run(args, duration, warmup, rounds, rss_first, rss_second, work)
    except KeyboardInterrupt:
        print("\ninterrupted; stopping every process started", file=sys.stderr)
        return 130
    finally:
        stop_all()
        shutil.rmtree(work, ignore_errors=True)
    results["elapsed_s"] = time.perf_counter() - began
    (OUT / "results.json").write_text(json.dumps(results, indent=1, default=str))
    from report import write_report  # bench/report.py

    args.out.write_text(write_report(results))
    print(f"\nwrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out} and "
          f"{(OUT / 'results.json').relative_to(ROOT)} in {results['elapsed_s'] / 60:.1f} min")  # fmt: skip
    return 0


def _run(
    args: argparse.Namespace, duration: float, warmup: float, rounds: int, rss_first: int, rss_second: int, work: Path
) -> dict[str, Any]:
    notes: list[str] = []
    command = "bench/run.py " + " ".join(sys.argv[1:]) if sys.argv[1:] else "bench/run.py"
    wrk_version = ensure_wrk(notes)
    litellm_bin, litellm_version = (None, "not run") if args.skip_litellm else ensure_litellm(notes)
    results: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": f".venv/bin/python {command}",
        "machine": machine(),
        "versions": {
            "keel": keel_version(),
            "litellm": litellm_version,
            "aiohttp": pip_version(PY, "aiohttp"),
            "uvloop": pip_version(PY, "uvloop"),
            "wrk": wrk_version,
        },
        "settings": {
            "duration_s": duration,
            "warmup_s": warmup,
            "rounds": rounds,
            "concurrency": args.concurrency,
            "quick": args.quick,
            "rss_requests": [rss_first, rss_second],
            "request_timeout_s": REQUEST_TIMEOUT_S,
            "noise_limit": NOISE_LIMIT,
            "retry_budget": 0.0 if args.quick else RETRY_BUDGET,
        },
        "notes": notes,
    }
    if litellm_bin is not None:
        results["versions"]["litellm_uvicorn"] = pip_version(LITELLM_VENV / "bin" / "python", "uvicorn")

    # 1. the upstream
    sim_port, sim = start_simulator()
    sim_base = f"http://127.0.0.1:{sim_port}/v1"
    targets: dict[str, Target] = {"direct": Target("direct", sim_port, "sk-bench-direct", sim)}
    startup: dict[str, Startup] = {}
    print(f"simulator on :{sim_port} (core {LOAD_CORE})", flush=True)

    # 2. the gateways, one at a time so that each starts on a quiet core
    launchers: dict[str, Callable[[], tuple[Target, Startup]]] = {
        "bare": lambda: launch_bare(sim_base),
        "keel": lambda: launch_keel(sim_port, work),
    }
    if litellm_bin is not None:
        launchers["litellm"] = lambda: launch_litellm(litellm_bin, sim_base, work)
    for name in ("bare", "keel", "litellm"):
        if name in launchers:
            targets[name], startup[name] = launchers[name]()
            print(f"{name} on :{targets[name].port}: healthy after {startup[name].healthy_s:.2f}s", flush=True)
    no_key = body_of(MODELS[0], False).encode()
    # Auth counts as on when a request without a key is refused (LiteLLM refuses with a 500, Keel with a 401).
    results["auth"] = {
        f"{name}_status_without_key": http_request(targets[name].port, "POST", "/v1/chat/completions", no_key)[0]
        for name in ("keel", "litellm")
        if name in targets
    }
    for name, target in targets.items():
        check_target(name, target.port, target.token)
    results["keel_metrics"] = _metrics_check(targets["keel"].port, targets["keel"].token or "")
    deaths: list[str] = []
    results["gateway_deaths"] = deaths

    def alive(name: str, where: str) -> bool:
        """False (after restarting it) when the target's process has exited since the last look."""
        proc = targets[name].proc
        code = proc.popen.poll()
        if code is None:
            return True
        how = f"signal {-code}" if code < 0 else f"exit code {code}"
        deaths.append(f"{name} ended by itself ({how}) during {where}; restarted, the round was run again")
        print(f"!! {deaths[-1]}\n{log_tail(proc, 15)}", flush=True)
        if name == "direct" or len(deaths) > MAX_RESTARTS:
            raise RuntimeError(f"{name} died ({how}); giving up:\n{log_tail(proc)}")
        stop(proc)
        targets[name], _ = launchers[name]()
        check_target(name, targets[name].port, targets[name].token)
        return False

    # 3. warm-up: every target, both models, plain and streamed, at c=16
    order = [t for t in TARGETS if t in targets]
    print("warming up ...", flush=True)
    for name in order:
        for latency_ms in MODELS:
            for stream in (False, True):
                measure(targets[name], sim, 16, stream, latency_ms, 0.5 if args.quick else 1.5, 0.0)
        alive(name, "the warm-up")

    # 4. the cells, targets interleaved in rotating order
    cells = [Cell(c, stream, latency_ms) for stream in (False, True) for latency_ms in MODELS for c in args.concurrency]
    total = len(cells) * rounds * len(order)
    retries_left = 0 if args.quick else int(total * RETRY_BUDGET)
    done = 0
    for index, cell in enumerate(cells):
        for r in range(rounds):
            shift = (index + r) % len(order)
            for name in order[shift:] + order[:shift]:
                run = measure(targets[name], sim, cell.concurrency, cell.stream, cell.latency_ms, duration, warmup)
                while not alive(name, f"{cell.key} round {r + 1}"):
                    run = measure(targets[name], sim, cell.concurrency, cell.stream, cell.latency_ms, duration, warmup)
                # Other engineers' jobs share the machine: a round in which other processes took more than
                # NOISE_LIMIT of a core is run again (at most twice, within a budget), keeping the quieter one.
                while run.noise > NOISE_LIMIT and run.attempts < 3 and retries_left > 0:
                    retries_left -= 1
                    again = measure(
                        targets[name], sim, cell.concurrency, cell.stream, cell.latency_ms, duration, warmup
                    )
                    again.attempts = run.attempts + 1
                    if again.noise < run.noise:
                        run = again
                    else:
                        run.attempts = again.attempts
                    print(f"      noisy round repeated ({again.noise * 100:.0f}% of a core taken by others)")
                cell.runs.setdefault(name, []).append(run)
                done += 1
                flag = f" ERRORS {run.errors} {run.sample_error[:120]}" if run.error_count else ""
                rate = run.ok / max(run.duration_s, 1e-9)
                print(
                    f"[{done:3d}/{total}] {cell.key:<18} {name:<8} {rate:8.1f} req/s"
                    f"  (others: {run.noise * 100:3.0f}% of a core){flag}",
                    flush=True,
                )

    # 5. cross-check of the load generator: wrk and loadgen.py back to back on each target
    #    (c=64, 0 ms, non-streaming), so that both see the same moment of the machine.
    crosscheck: dict[str, Any] = {}
    check_s = max(2, round(duration))
    if not args.quick:
        print(f"cross-check: wrk vs loadgen.py, c=64, 0 ms, non-streaming, {check_s} s each ...", flush=True)
    for name in () if args.quick else order:
        body = body_of(MODELS[0], False)
        tools: dict[str, list[float]] = {"wrk": [], "loadgen": []}
        for r in range(2):
            for tool in ("wrk", "loadgen") if r % 2 == 0 else ("loadgen", "wrk"):
                if tool == "wrk":
                    raw = run_wrk(targets[name], body, 64, check_s)
                else:
                    raw = run_loadgen(targets[name], body, 64, check_s, False, warmup_s=warmup)
                tools[tool].append(raw["ok"] / raw["duration_s"] if raw["duration_s"] else 0.0)
        crosscheck[name] = {tool: sum(v) / len(v) for tool, v in tools.items()}
        w, g = crosscheck[name]["wrk"], crosscheck[name]["loadgen"]
        print(f"  {name:<8} wrk {w:8.1f} req/s, loadgen.py {g:8.1f} req/s", flush=True)
    results["wrk_crosscheck"] = crosscheck

    peak = {name: memory_kib(target.proc.pid, "VmHWM") for name, target in targets.items() if name != "direct"}
    rss_now = {name: memory_kib(target.proc.pid, "VmRSS") for name, target in targets.items() if name != "direct"}
    keel_dir = targets["keel"].data_dir
    results["request_log_rows_main"] = _request_log_rows(keel_dir) if keel_dir else None

    # 6. Keel's memory over many requests, on a fresh process with nothing else running on its core
    for name in ("litellm", "bare"):
        if name in targets:
            stop(targets[name].proc)
    stop(targets["keel"].proc)
    try:
        rss = keel_rss_phase(sim_port, sim, work / "keel-rss", rss_first, rss_second)
    except RuntimeError as exc:  # reported, not fatal: the cells are worth keeping
        print(f"!! Keel's memory phase failed: {exc}", flush=True)
        rss = {"error": str(exc)[:2000]}

    results["cells"] = [
        {
            "key": cell.key,
            "concurrency": cell.concurrency,
            "stream": cell.stream,
            "latency_ms": cell.latency_ms,
            "targets": {name: cell.summary(name) for name in order},
        }
        for cell in cells
    ]
    results["startup"] = {name: vars(s) for name, s in startup.items()}
    results["peak_rss_kib"] = peak
    results["rss_end_kib"] = rss_now
    results["keel_rss"] = rss
    return results


def launch_bare(sim_base: str) -> tuple[Target, Startup]:
    port = free_port()
    proc = start("bare", [str(PY), str(BENCH / "bare_proxy.py"), sim_base, str(port)], GATEWAY_CORE)
    healthy = wait_healthy(proc, port, "/healthz", 60)
    return Target("bare", port, "sk-bench-bare", proc), Startup(healthy, first_answer("bare", proc, port, None))


def launch_keel(sim_port: int, work: Path) -> tuple[Target, Startup]:
    # A restarted Keel gets a fresh directory, so that each process's request log is its own.
    directory = work / ("keel" if not (work / "keel").exists() else f"keel-{secrets.token_hex(3)}")
    proc, token, env = start_keel(sim_port, directory)
    port = int(env["BENCH_KEEL_PORT"])
    healthy = wait_healthy(proc, port, "/readyz", 120)
    target = Target("keel", port, token, proc, directory)
    return target, Startup(healthy, first_answer("keel", proc, port, token))


def launch_litellm(binary: Path, sim_base: str, work: Path) -> tuple[Target, Startup]:
    port = free_port()
    key = "sk-" + secrets.token_hex(16)
    proc = start(
        "litellm",
        [str(binary), "--config", str(BENCH / "litellm.yaml"), "--host", "127.0.0.1", "--port", str(port),
         "--num_workers", "1"],
        GATEWAY_CORE,
        env={
            "BENCH_SIM_BASE": sim_base,
            "BENCH_LITELLM_KEY": key,
            # Offline machine: use the model price map shipped in the package instead of fetching it.
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        },
        cwd=work,
    )  # fmt: skip
    healthy = wait_healthy(proc, port, "/health/readiness", 300)
    return Target("litellm", port, key, proc), Startup(healthy, first_answer("litellm", proc, port, key))


def start_keel(sim_port: int, directory: Path, name: str = "keel") -> tuple[Proc, str, dict[str, str]]:
    directory.mkdir(parents=True, exist_ok=True)
    token = "sk-keel-admin-" + secrets.token_hex(16)
    port = free_port()
    env = {
        "KEEL_ADMIN_KEY": token,
        "BENCH_KEEL_PORT": str(port),
        "BENCH_KEEL_DIR": str(directory),
        "BENCH_SIM_PORT": str(sim_port),
        "KEEL_LOG_LEVEL": "WARNING",
    }
    proc = start(
        name,
        [str(KEEL), "serve", "--config", str(BENCH / "keel.yaml"), "--port", str(port), "--workers", "1"],
        GATEWAY_CORE,
        env=env,
        cwd=directory,
    )
    return proc, token, env


def keel_rss_phase(sim_port: int, sim: Proc, directory: Path, first: int, second: int) -> dict[str, Any]:
    keel, token, env = start_keel(sim_port, directory, "keel-rss")
    port = int(env["BENCH_KEEL_PORT"])
    healthy = wait_healthy(keel, port, "/readyz", 120)
    target = Target("keel", port, token, keel)
    body = body_of(MODELS[0], False)
    print(f"Keel memory phase: {first} then {second} requests at c=64, 0 ms upstream ...", flush=True)
    start_rss = memory_kib(keel.pid, "VmRSS")
    marks: list[dict[str, Any]] = []
    sent = 0
    errors = 0
    for goal in (first, second):
        stretch = goal - sent
        cpu0 = cpu_seconds(keel.pid)
        raw = run_loadgen(target, body, 64, 600.0, stream=False, requests=stretch)
        if keel.popen.poll() is not None:
            raise RuntimeError(f"Keel ended (exit {keel.popen.returncode}) during the memory phase:\n{log_tail(keel)}")
        sent = goal
        errors += sum(raw["errors"].values())
        time.sleep(1.0)  # let the request log flush its last batch (its CPU is counted below)
        marks.append(
            {
                "requests": goal,
                "rss_kib": memory_kib(keel.pid, "VmRSS"),
                "hwm_kib": memory_kib(keel.pid, "VmHWM"),
                "rps": raw["ok"] / raw["duration_s"] if raw["duration_s"] else 0.0,
                "cpu_ms_per_req": 1000 * (cpu_seconds(keel.pid) - cpu0) / max(stretch, 1),
                "errors": sum(raw["errors"].values()),
            }
        )
        print(f"  after {goal} requests: RSS {marks[-1]['rss_kib'] / 1024:.1f} MiB", flush=True)
    stop(keel)
    rows = _request_log_rows(directory)
    return {
        "healthy_s": healthy,
        "start_rss_kib": start_rss,
        "marks": marks,
        "errors": errors,
        "request_log_rows": rows,
    }


def _request_log_rows(directory: Path) -> dict[str, int] | None:
    """Row counts of the tables in Keel's SQLite store (to show the request log was written)."""
    db = directory / "keel.db"
    if not db.exists():
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
            names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            return {n: int(conn.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0]) for n in names}
    except sqlite3.Error as exc:
        return {"error": 0, str(exc): 0}


def _metrics_check(port: int, token: str) -> dict[str, Any]:
    with contextlib.suppress(OSError, http.client.HTTPException):
        status, raw = http_request(port, "GET", "/metrics", token=token)
        lines = [ln for ln in raw.decode(errors="replace").splitlines() if ln and not ln.startswith("#")]
        return {"status": status, "series": len(lines)}
    return {"status": None, "series": 0}


if __name__ == "__main__":
    sys.path.insert(0, str(BENCH))
    sys.exit(main())
