"""Turn the raw results of bench/run.py into bench/RESULTS.md (also: python bench/report.py results.json)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

TARGET_ORDER = ("direct", "keel", "litellm", "bare")


def _ms(value: float | None) -> str:
    if value is None:
        return "n/a"
    if abs(value) < 10:
        return f"{value:.2f}"
    if abs(value) < 1000:
        return f"{value:.1f}"
    return f"{value:,.0f}"


def _signed(value: float | None) -> str:
    if value is None:
        return "n/a"
    return ("+" if value >= 0 else "") + _ms(value)


def _rps(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _mib(kib: float | None) -> str:
    return "n/a" if kib is None else f"{kib / 1024:.0f} MiB"


def _cell(results: dict[str, Any], concurrency: int, stream: bool, latency_ms: int) -> dict[str, Any] | None:
    for cell in results.get("cells", []):
        if cell["concurrency"] == concurrency and cell["stream"] == stream and cell["latency_ms"] == latency_ms:
            found: dict[str, Any] = cell
            return found
    return None


def _get(cell: dict[str, Any] | None, target: str, key: str) -> float | None:
    if cell is None or target not in cell["targets"]:
        return None
    value = cell["targets"][target].get(key)
    return None if value is None else float(value)


def _added(cell: dict[str, Any] | None, target: str, key: str) -> float | None:
    mine, base = _get(cell, target, key), _get(cell, "direct", key)
    return None if mine is None or base is None else mine - base


def _valid(cell: dict[str, Any] | None, *targets: str) -> bool:
    return cell is not None and all(
        t in cell["targets"] and cell["targets"][t]["errors"] == 0 and cell["targets"][t]["ok"] > 0 for t in targets
    )


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The six goals, each as rows of {goal, figures, verdict}."""
    rows: list[dict[str, Any]] = []

    def row(goal: str, figures: str, ok: bool | None, valid: bool = True) -> None:
        if ok is None:
            verdict = "n/a"
        elif not valid:
            verdict = "INVALID (errors, or no answers in the window)"
        else:
            verdict = "PASS" if ok else "FAIL"
        rows.append({"goal": goal, "figures": figures, "verdict": verdict})

    def le(a: float | None, b: float | None) -> bool | None:
        return None if a is None or b is None else a <= b

    def ge(a: float | None, b: float | None) -> bool | None:
        return None if a is None or b is None else a >= b

    # (1) c=1, 50 ms upstream: Keel's added p50 <= 0.1 x LiteLLM's
    cell = _cell(results, 1, False, 50)
    keel, lite = _added(cell, "keel", "p50_ms"), _added(cell, "litellm", "p50_ms")
    ratio = f" = {keel / lite:.3f} x" if keel is not None and lite else ""
    row(
        "1. c=1, 50 ms upstream: Keel's added p50 latency <= 0.1 x LiteLLM's",
        f"Keel +{_ms(keel)} ms vs LiteLLM +{_ms(lite)} ms{ratio}",
        le(keel, None if lite is None else 0.1 * lite),
        _valid(cell, "direct", "keel", "litellm"),
    )

    # (2) c=64, 0 ms: throughput >= 20 x LiteLLM and >= 0.4 x bare (CPU/request <= 2.5 x bare)
    cell = _cell(results, 64, False, 0)
    k, lt, b = _get(cell, "keel", "rps"), _get(cell, "litellm", "rps"), _get(cell, "bare", "rps")
    row(
        "2a. c=64, 0 ms: Keel's throughput >= 20 x LiteLLM's",
        f"Keel {_rps(k)} req/s vs LiteLLM {_rps(lt)} req/s" + (f" = {k / lt:.1f} x" if k and lt else ""),
        ge(k, None if lt is None else 20 * lt),
        _valid(cell, "keel", "litellm"),
    )
    kc, lc = _get(cell, "keel", "cpu_ms_per_req"), _get(cell, "litellm", "cpu_ms_per_req")
    row(
        "2a'. (the same in CPU) c=64, 0 ms: LiteLLM's CPU per request >= 20 x Keel's",
        f"LiteLLM {_ms(lc)} ms vs Keel {_ms(kc)} ms CPU/request" + (f" = {lc / kc:.1f} x" if kc and lc else ""),
        ge(lc, None if kc is None else 20 * kc),
        _valid(cell, "keel", "litellm"),
    )
    row(
        "2b. c=64, 0 ms: Keel's throughput >= 0.4 x bare pass-through's",
        f"Keel {_rps(k)} req/s vs bare {_rps(b)} req/s" + (f" = {k / b:.2f} x" if k and b else ""),
        ge(k, None if b is None else 0.4 * b),
        _valid(cell, "keel", "bare"),
    )
    kc, bc = _get(cell, "keel", "cpu_ms_per_req"), _get(cell, "bare", "cpu_ms_per_req")
    row(
        "2c. c=64, 0 ms: Keel's CPU per request <= 2.5 x bare's",
        f"Keel {_ms(kc)} ms vs bare {_ms(bc)} ms CPU/request" + (f" = {kc / bc:.2f} x" if kc and bc else ""),
        le(kc, None if bc is None else 2.5 * bc),
        _valid(cell, "keel", "bare"),
    )

    # (3) c=64, 50 ms: Keel's throughput >= 0.9 x direct
    cell = _cell(results, 64, False, 50)
    k, d = _get(cell, "keel", "rps"), _get(cell, "direct", "rps")
    row(
        "3. c=64, 50 ms upstream: Keel's throughput >= 0.9 x direct",
        f"Keel {_rps(k)} req/s vs direct {_rps(d)} req/s" + (f" = {k / d:.2f} x" if k and d else ""),
        ge(k, None if d is None else 0.9 * d),
        _valid(cell, "direct", "keel"),
    )

    # (4) streaming c=16: Keel's added TTFB <= 0.05 x LiteLLM's (both upstream latencies)
    for latency_ms in (0, 50):
        cell = _cell(results, 16, True, latency_ms)
        keel, lite = _added(cell, "keel", "ttfb_p50_ms"), _added(cell, "litellm", "ttfb_p50_ms")
        ratio = f" = {keel / lite:.3f} x" if keel is not None and lite else ""
        row(
            f"4. streaming c=16, {latency_ms} ms upstream: Keel's added TTFB (p50) <= 0.05 x LiteLLM's",
            f"Keel {_signed(keel)} ms vs LiteLLM {_signed(lite)} ms{ratio}",
            le(keel, None if lite is None else 0.05 * lite),
            _valid(cell, "direct", "keel", "litellm"),
        )

    # (5) start to healthy <= 0.25 x LiteLLM's; peak RSS <= 0.5 x LiteLLM's
    startup = results.get("startup", {})
    ks = startup.get("keel", {}).get("healthy_s")
    ls = startup.get("litellm", {}).get("healthy_s")
    row(
        "5a. start to healthy: Keel <= 0.25 x LiteLLM",
        f"Keel {_ms(ks)} s vs LiteLLM {_ms(ls)} s" + (f" = {ks / ls:.3f} x" if ks and ls else ""),
        le(ks, None if ls is None else 0.25 * ls),
    )
    peak = results.get("peak_rss_kib", {})
    kp, lp = peak.get("keel"), peak.get("litellm")
    row(
        "5b. peak RSS: Keel <= 0.5 x LiteLLM",
        f"Keel {_mib(kp)} vs LiteLLM {_mib(lp)}" + (f" = {kp / lp:.2f} x" if kp and lp else ""),
        le(kp, None if lp is None else 0.5 * lp),
    )

    # (6) RSS after 100k requests within 10% of after 10k
    marks = results.get("keel_rss", {}).get("marks", [])
    if len(marks) == 2:
        a, z = marks[0], marks[1]
        growth = z["rss_kib"] / a["rss_kib"] if a["rss_kib"] else None
        row(
            f"6. Keel's RSS after {z['requests']:,} requests within 10% of after {a['requests']:,}",
            f"{_mib(a['rss_kib'])} -> {_mib(z['rss_kib'])}" + (f" = {growth:.3f} x" if growth else ""),
            None if growth is None else growth <= 1.10,
            results.get("keel_rss", {}).get("errors", 1) == 0,
        )
    else:
        row("6. Keel's RSS after 100k requests within 10% of after 10k", "not measured", None)
    return rows


def _table(results: dict[str, Any], stream: bool, latency_ms: int) -> list[str]:
    cells = [c for c in results.get("cells", []) if c["stream"] == stream and c["latency_ms"] == latency_ms]
    if not cells:
        return []
    kind = "streaming" if stream else "non-streaming"
    lines = [f"### {kind}, {latency_ms} ms upstream", ""]
    head = ["c", "target", "req/s", "req/s per round", "p50 ms", "p99 ms", "added p50"]
    if stream:
        head += ["TTFB p50", "TTFB p99", "added TTFB p50"]
    head += ["gateway CPU ms/req", "others' CPU", "errors"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "|".join("---:" if i != 1 else "---" for i in range(len(head))) + "|")
    for cell in cells:
        for name in TARGET_ORDER:
            s = cell["targets"].get(name)
            if s is None:
                continue
            cols = [
                str(cell["concurrency"]),
                f"**{name}**" if name == "keel" else name,
                _rps(s["rps"]),
                f"{_rps(s['rps_min'])}-{_rps(s['rps_max'])}",
                _ms(s["p50_ms"]),
                _ms(s["p99_ms"]),
                "-" if name == "direct" else _signed(_added(cell, name, "p50_ms")),
            ]
            if stream:
                cols += [
                    _ms(s["ttfb_p50_ms"]),
                    _ms(s["ttfb_p99_ms"]),
                    "-" if name == "direct" else _signed(_added(cell, name, "ttfb_p50_ms")),
                ]
            cpu = s["cpu_ms_per_req"]
            cols.append(f"({_ms(cpu)} upstream)" if name == "direct" else _ms(cpu))
            noise = s.get("noise_mean")
            cols.append("n/a" if noise is None else f"{noise * 100:.0f}%")
            errors = str(s["errors"])
            if s["errors"]:
                errors += " " + ", ".join(f"{k}: {v}" for k, v in s["error_kinds"].items())
            cols.append(errors)
            lines.append("| " + " | ".join(cols) + " |")
    lines.append("")
    return lines


def _sanity(results: dict[str, Any]) -> list[str]:
    """Did the upstream and the load generator outpace every gateway?"""
    lines = []
    worst_core0 = 0.0
    for cell in results.get("cells", []):
        direct = cell["targets"].get("direct", {}).get("rps")
        for name, s in cell["targets"].items():
            if name == "direct":
                continue
            worst_core0 = max(worst_core0, s.get("core0_busy_max") or 0.0)
            if direct is not None and s["rps"] > direct * 1.02:
                lines.append(
                    f"- {cell['key']}: {name} ({_rps(s['rps'])} req/s) outran direct ({_rps(direct)} req/s); "
                    "the direct figure there is noise-bound, not a ceiling."
                )
    lines.append(
        f"- Core 0 (upstream + load generator) was at most {worst_core0 * 100:.0f}% busy during any gateway "
        "round, so the load side was not what limited a gateway."
        if worst_core0 < 0.9
        else f"- Core 0 (upstream + load generator) reached {worst_core0 * 100:.0f}% busy in some gateway round: "
        "those rounds may be limited by the load side, not the gateway."
    )
    return lines


def _noise_mean(results: dict[str, Any]) -> float | None:
    runs = [s for cell in results.get("cells", []) for s in cell["targets"].values()]
    if not runs or runs[0].get("noise_mean") is None:
        return None
    return float(sum(s["noise_mean"] * s["rounds"] for s in runs) / sum(s["rounds"] for s in runs))


def _noise_warning(results: dict[str, Any]) -> list[str]:
    mean = _noise_mean(results)
    if mean is None or mean < 0.2:
        return []
    return [
        f"> **This run shared the machine with other work**: during the counted windows, other processes took on "
        f'average {mean * 100:.0f}% of a core (see "others\' CPU" per cell and the sanity checks). Absolute '
        "throughput and latency are depressed and noisy, tails most of all. Interleaving spreads the disturbance "
        "over all targets, so ratios are more robust than absolute figures, and CPU per request is the steadiest "
        "figure. Re-run on an idle machine before quoting numbers.",
        "",
    ]


def _noise(results: dict[str, Any]) -> list[str]:
    """How much of the machine other processes took while the windows were open."""
    runs = [s for cell in results.get("cells", []) for s in cell["targets"].values()]
    if not runs or runs[0].get("noise_mean") is None:
        return []
    rounds = sum(s["rounds"] for s in runs)
    repeated = sum(s.get("attempts", s["rounds"]) - s["rounds"] for s in runs)
    mean = sum(s["noise_mean"] * s["rounds"] for s in runs) / rounds
    worst = max(s["noise_max"] for s in runs)
    limit = results["settings"].get("noise_limit", 0.1)
    return [
        f"- Other load on the machine: during the counted windows, processes other than the benchmark's (and the "
        f"hypervisor) took on average {mean * 100:.1f}% of a core on the busier of the two cores, at worst "
        f'{worst * 100:.0f}% (the "others\' CPU" column). A round in which they took more than {limit * 100:.0f}% '
        f"was run again, keeping the quieter attempt (at most 3 attempts, within a budget of "
        f"{results['settings'].get('retry_budget', 0) * 100:.0f}% extra rounds): {repeated} repeat(s) in "
        f"{rounds} rounds."
    ]


def _auth(status: int | None) -> str:
    if status is None:
        return "not run"
    return f"on (a request without a key got {status})" if status != 200 else "OFF (a request without a key got 200)"


def write_report(results: dict[str, Any]) -> str:
    m = results["machine"]
    v = results["versions"]
    s = results["settings"]
    auth = results.get("auth", {})
    lines = [
        "# Keel benchmark results",
        "",
        f"Generated by `{results['command']}` on {results['date']} "
        f"(the run took {results.get('elapsed_s', 0) / 60:.1f} min).",
        *(["", "**This is a `--quick` smoke run: too short for conclusions.**"] if s.get("quick") else []),
        "",
        "## Machine and versions",
        "",
        f"- {m['cores']} cores, {m['cpu_model']}, {m['memory_gib']} GiB, Linux {m['kernel']}, Python {m['python']}",
        f"- Keel {v['keel']} (aiohttp {v['aiohttp']}, uvloop {v['uvloop']}), LiteLLM {v['litellm']}"
        + (f" (uvicorn {v['litellm_uvicorn']})" if v.get("litellm_uvicorn") else "")
        + f", {v['wrk']}",
        f"- Auth: Keel {_auth(auth.get('keel_status_without_key'))} (admin key as bearer token); "
        f"LiteLLM {_auth(auth.get('litellm_status_without_key'))} (master key, no database); "
        "the bare pass-through and the simulator check nothing.",
        "",
        *_noise_warning(results),
        "## Targets",
        "",
        "All figures come from this one run. Where a goal is about throughput, the CPU-per-request form of it is "
        "the steadier figure on a shared machine (the gateway's own CPU time hardly depends on what else runs).",
        "",
        "| goal | figures | verdict |",
        "|---|---|---|",
    ]
    for r in targets(results):
        lines.append(f"| {r['goal']} | {r['figures']} | **{r['verdict']}** |")
    lines += [
        "",
        "## Method",
        "",
        "- One command starts everything, each as its own process: the simulated upstream "
        "(`keel simulate`, bench/simulator.yaml: models `bench-0ms` answering at once and `bench-50ms` answering "
        "after a fixed 50 ms, 16 output tokens, no token pacing), Keel (`keel serve --workers 1`, bench/keel.yaml), "
        "LiteLLM (`litellm --num_workers 1`, bench/litellm.yaml, in bench/.venv-litellm) and the bare pass-through "
        "(bench/bare_proxy.py: aiohttp server plus one pooled aiohttp ClientSession, uvloop, forwarding bytes).",
        "- Targets: **direct** = load generator straight at the simulator; **keel**, **litellm**, **bare** = through "
        "that gateway to the same simulator. The same request body goes to every target; the model names are the "
        "same everywhere.",
        "- CPU pinning with `taskset`: each gateway on core 1; the simulator and the load generator on core 0. "
        "Only one target is under load at a time.",
        f"- Interleaving: for each cell, {s['rounds']} round(s); in each round every target runs once, in an order "
        "rotated by one per round and per cell, so drift hits all alike. A round is "
        f"{s.get('warmup_s', 0)} s of uncounted load (connections open, the first wave completes) followed by a "
        f"{s['duration_s']} s counted window. "
        "Figures aggregate all rounds of a cell (req/s = answered requests / summed window; percentiles over all "
        "requests); the per-round range shows the noise. A warm-up at c=16 (both models, plain and streamed) "
        "precedes the measurements.",
        "- Load generator: bench/loadgen.py for every cell, a lean closed-loop HTTP/1.1 client written on "
        "asyncio's protocol layer and uvloop (no HTTP client library; one process on core 0): each of c keep-alive "
        "connections sends its next request as soon as the previous answer is complete. It times the last byte "
        "and the first byte of the response body (TTFB; for a stream, the first SSE frame), and keeps exact "
        "per-request latencies. Requests in flight when a window closes are dropped, not counted. wrk "
        "(Debian package) cross-checks throughput at c=64 / 0 ms / non-streaming; its latency statistics are not "
        "used because wrk corrects them for coordinated omission, which makes its tails incomparable with the "
        "streaming cells' raw closed-loop figures.",
        "- Errors: any non-200, broken connection, timeout "
        f"({s['request_timeout_s']:.0f} s) or stream not ending in `data: [DONE]`. A cell is only valid with 0 errors.",
        "- Machine noise: /proc/stat is read at the same window edges; CPU time on either core beyond what the "
        "simulator, the load generator and the gateway used is other processes' (or stolen by the hypervisor) and "
        'is shown per cell as "others\' CPU" (mean share of a core over the rounds).',
        "- Gateway CPU per request: utime+stime from /proc/PID/stat of the gateway and all its descendants, "
        "read at the start and the end of each counted window (the load generator signals both), divided by the "
        "requests answered in it. For `direct` the figure is the simulator's own CPU per request. The harness "
        "itself is pinned to core 0 too.",
        "- Start to healthy: from process start (fork of `taskset`) to the first 200 on Keel's `/readyz`, "
        "LiteLLM's `/health/readiness`, the bare proxy's `/healthz`; each started alone on core 1. Peak RSS: "
        "VmHWM from /proc/PID/status summed over the process tree, read after all cells.",
        f"- Keel's memory: a fresh Keel process gets {s['rss_requests'][0]:,} and then "
        f"{s['rss_requests'][1]:,} requests in total (c=64, 0 ms, non-streaming, bench/loadgen.py); VmRSS is read "
        "1 s after each mark.",
        "- Keel runs as configured for production use: auth on, the request log on (SQLite under a temporary "
        "directory, batched off the request path), Prometheus metrics on. LiteLLM runs with its defaults "
        "(including its access log on stdout, which goes to a file), a master key and no database.",
        "",
    ]
    notes = list(results.get("notes", [])) + list(results.get("gateway_deaths", []))
    if results.get("keel_rss", {}).get("error"):
        notes.append("Keel's memory phase failed: " + results["keel_rss"]["error"].splitlines()[0])
    if notes:
        lines += ["Notes from this run:", ""] + [f"- {n}" for n in notes] + [""]
    lines += ["## Results per cell", ""]
    for stream in (False, True):
        for latency_ms in (0, 50):
            lines += _table(results, stream, latency_ms)
    lines += [
        "## Start-up and memory",
        "",
        "| target | start to healthy | start to first answer | peak RSS (VmHWM) | RSS after the cells |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in ("keel", "litellm", "bare"):
        st = results.get("startup", {}).get(name)
        if st is None:
            continue
        lines.append(
            f"| {name} | {st['healthy_s']:.2f} s | {st['first_answer_s']:.2f} s | "
            f"{_mib(results.get('peak_rss_kib', {}).get(name))} | {_mib(results.get('rss_end_kib', {}).get(name))} |"
        )
    rss = results.get("keel_rss", {})
    if rss.get("healthy_s") is not None:
        lines += ["", f"A second, later Keel start (for the memory phase) was ready after {rss['healthy_s']:.2f} s."]
    if rss.get("marks"):
        lines += [
            "",
            f"Keel's memory over many requests (fresh process, RSS {_mib(rss['start_rss_kib'])} when ready):",
            "",
            "| requests | RSS | VmHWM | req/s in the stretch | CPU ms/req | errors |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for mark in rss["marks"]:
            lines.append(
                f"| {mark['requests']:,} | {_mib(mark['rss_kib'])} | {_mib(mark['hwm_kib'])} | {_rps(mark['rps'])} | "
                f"{_ms(mark['cpu_ms_per_req'])} | {mark['errors']} |"
            )
        if rss.get("request_log_rows") is not None:
            rows = ", ".join(f"{k}: {n:,}" for k, n in rss["request_log_rows"].items())
            lines += ["", f"Rows in that Keel's SQLite store afterwards: {rows}."]
    lines += ["", "## Sanity checks", ""] + _sanity(results) + _noise(results)
    cross = results.get("wrk_crosscheck")
    if cross:
        parts = []
        gaps = []
        for name in TARGET_ORDER:
            if name not in cross:
                continue
            w, g = cross[name]["wrk"], cross[name]["loadgen"]
            parts.append(f"{name}: wrk {_rps(w)}, loadgen.py {_rps(g)}")
            if name != "direct" and w:
                gaps.append((abs(g - w) / w, name))
        line = (
            "- Load generator cross-check (c=64, 0 ms, non-streaming; wrk and loadgen.py back to back on each "
            "target), req/s: " + "; ".join(parts) + "."
        )
        if gaps:
            worst, who = max(gaps)
            line += (
                f" Through the gateways the two agree within {worst * 100:.0f}% (largest gap: {who}), so the Python "
                "load generator did not limit them."
                if worst <= 0.15
                else f" The largest gap through a gateway is {worst * 100:.0f}% ({who}): machine noise between the "
                "back-to-back runs, or the load generator limiting that gateway; read that gateway's figures with care."
            )
        lines.append(line)
    metrics = results.get("keel_metrics")
    if metrics:
        lines.append(
            f"- Keel's `/metrics` answered {metrics['status']} with {metrics['series']} series before the load."
        )
    store_rows = results.get("request_log_rows_main")
    if store_rows is not None:
        lines.append(
            "- Rows in the benchmarked Keel's SQLite store after the cells: "
            + ", ".join(f"{k}: {n:,}" for k, n in store_rows.items())
            + "."
        )
    lines += [
        "",
        "Raw numbers: bench/out/results.json (not committed).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    data = json.loads(
        Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "out" / "results.json").read_text()
    )
    sys.stdout.write(write_report(data))
