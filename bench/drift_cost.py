"""What the drift job costs at 1M and 10M logged requests: time and memory to sketch and to report.

For each N, half the requests fill a route's baseline window and half its current window (with a
longer-prompt shift, so the report has drifted and stable features), all through the batched
``DriftMonitor.observe_many`` path: 6 numeric features, 5 categorical ones and, for one request in
``--embedding-every``, a 384-dimensional prompt embedding. Synthetic features are generated per batch
outside the timed sections. Then it times ``freeze_baseline``, ``report`` (binned KS, chi-square, PSI,
and MMD with 1,000 permutations on the two 512-vector reservoirs), the JSON state and a replica merge,
and separately ``extract_features`` on real-looking chat requests (the per-request part).

    .venv/bin/python bench/drift_cost.py [--requests 1000000 10000000] [--batch 100000]

Times are CPU seconds of this process (the machine may be shared; wall time would count the
neighbours). Memory is the serialised state of the monitor (what stays resident) and the process's peak
RSS (which also holds the interpreter, numpy and one batch of generated features).
"""

from __future__ import annotations

import argparse
import resource
import time
from typing import Any

import numpy as np
import orjson

from keel.monitor.drift import DriftConfig, DriftMonitor, extract_features, render_table

DIM = 384
ROUTE = "support"


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def batch_features(
    rng: np.random.Generator, n: int, shifted: bool
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    scale = 1.3 if shifted else 1.0
    prompt_chars = np.round(rng.lognormal(6.0, 0.8, n) * scale)
    numeric = {
        "prompt_chars": prompt_chars,
        "prompt_tokens_est": np.round(prompt_chars / 4.0),
        "turns": rng.integers(1, 6, n).astype(np.float64),
        "answer_chars": np.round(rng.gamma(3.0, 150.0, n)),
        "out.confidence": rng.beta(8.0, 2.0, n),
        "out.items": np.where(rng.random(n) < 0.6, rng.integers(0, 8, n), np.nan),
    }
    categorical = {
        "language": rng.choice(["en", "de", "fr", "es", "other"], n, p=[0.8, 0.08, 0.06, 0.04, 0.02]),
        "finish_reason": rng.choice(["stop", "length", "tool_calls"], n, p=[0.9, 0.04, 0.06]),
        "tool_use": rng.choice(["false", "true"], n, p=[0.94, 0.06]),
        "refusal": rng.choice(["false", "true"], n, p=[0.98, 0.02]),
        "out.category": rng.choice(["billing", "shipping", "returns", "warranty"], n, p=[0.4, 0.3, 0.2, 0.1]),
    }
    return numeric, categorical


def fill(monitor: DriftMonitor, rng: np.random.Generator, total: int, batch: int, every: int, shifted: bool) -> float:
    """Observe ``total`` requests in batches; return the CPU seconds spent inside the monitor."""
    spent = 0.0
    for start in range(0, total, batch):
        n = min(batch, total - start)
        numeric, categorical = batch_features(rng, n, shifted)
        embeddings = rng.standard_normal((n // every, DIM), dtype=np.float32) if every else None
        if embeddings is not None and shifted:
            embeddings[:, :8] += 0.5
        began = time.process_time()
        monitor.observe_many(ROUTE, n, numeric, categorical, embeddings)
        spent += time.process_time() - began
    return spent


def timed(action: Any) -> tuple[Any, float]:
    began = time.process_time()
    result = action()
    return result, time.process_time() - began


def measure(total: int, batch: int, every: int) -> tuple[dict[str, float], str]:
    rng = np.random.default_rng(total)
    monitor = DriftMonitor(DriftConfig())
    observe = fill(monitor, rng, total // 2, batch, every, shifted=False)
    _, freeze = timed(lambda: monitor.freeze_baseline(ROUTE))
    observe += fill(monitor, rng, total - total // 2, batch, every, shifted=True)
    report, report_seconds = timed(lambda: monitor.report(ROUTE))
    state, serialise = timed(lambda: orjson.dumps(monitor.to_state()))
    replica = DriftMonitor.from_state(orjson.loads(state))
    _, merge = timed(lambda: monitor.merge(replica))
    figures = {
        "requests": float(total),
        "observe_s": observe,
        "us_per_request": observe / total * 1e6,
        "freeze_s": freeze,
        "report_s": report_seconds,
        "state_kib": len(state) / 1024.0,
        "serialise_s": serialise,
        "merge_s": merge,
        "peak_rss_mib": rss_mib(),
    }
    return figures, render_table(report)


def extraction_cost(samples: int) -> float:
    """Microseconds per request for ``extract_features`` on varied chat requests and answers."""
    rng = np.random.default_rng(0)
    words = ["order", "parcel", "refund", "invoice", "account", "password", "delivery", "the", "my", "is"]
    words += ["not", "please", "when", "where", "why", "how"]
    cases = []
    for i in range(samples):
        prompt = " ".join(rng.choice(words, int(rng.integers(5, 120))))
        request = {
            "messages": [{"role": "system", "content": "You are a support agent."}, {"role": "user", "content": prompt}]
        }
        content = '{"category": "billing", "confidence": 0.8}' if i % 3 == 0 else " ".join(rng.choice(words, 60))
        response = {"choices": [{"finish_reason": "stop", "message": {"role": "assistant", "content": content}}]}
        cases.append((request, response))
    began = time.process_time()
    for request, response in cases:
        extract_features(request, response)
    return (time.process_time() - began) / samples * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--batch", type=int, default=100_000)
    parser.add_argument(
        "--embedding-every", type=int, default=10, help="one embedding per this many requests (0: none)"
    )
    parser.add_argument("--show-report", action="store_true", help="print the last report's table")
    args = parser.parse_args()
    results = [measure(total, args.batch, args.embedding_every) for total in args.requests]
    rows = [figures for figures, _ in results]
    columns = [
        "requests",
        "observe CPU s",
        "µs/request",
        "freeze s",
        "report s",
        "state KiB",
        "merge s",
        "peak RSS MiB",
    ]
    print("| " + " | ".join(columns) + " |\n" + "|---:" * len(columns) + "|")
    for row in rows:
        cells = [
            f"{row['requests']:,.0f}",
            f"{row['observe_s']:.2f}",
            f"{row['us_per_request']:.2f}",
            f"{row['freeze_s']:.3f}",
            f"{row['report_s']:.2f}",
            f"{row['state_kib']:.0f}",
            f"{row['merge_s']:.3f}",
            f"{row['peak_rss_mib']:.0f}",
        ]
        print("| " + " | ".join(cells) + " |")
    print(f"\nextract_features: {extraction_cost(5000):.1f} µs per request (one core, Python)")
    if args.show_report:
        print("\n" + results[-1][1])


if __name__ == "__main__":
    main()
