"""Lookup time of the semantic cache's vector index at 10k and 1M entries of 384 dimensions.

Fills a ``VectorIndex`` with random unit vectors, then times ``search`` for random unit queries (one
query at a time, as one request sees it) and ``search_many`` for batches of queries (what the cache does
with lookups that arrive together on a large partition). Prints p50 and p99 per lookup and the memory
the rows take. ``--float16`` also times a float16 copy of the rows scanned in chunks, the storage the
index does not use because numpy's float16 to float32 conversion is slower than reading twice the bytes.

    .venv/bin/python bench/semantic/lookup.py                 # 10k and 1M entries, about a minute
    .venv/bin/python bench/semantic/lookup.py --sizes 100000 --float16
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from keel.cache.semantic.index import VectorIndex

DIMENSIONS = 384
BATCH = 16


def unit_rows(rng: np.random.Generator, count: int) -> np.ndarray:
    rows = rng.standard_normal((count, DIMENSIONS), dtype=np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return rows


def filled_index(rng: np.random.Generator, size: int) -> VectorIndex:
    index = VectorIndex(DIMENSIONS, capacity=size)
    step = 100_000
    for start in range(0, size, step):
        for offset, row in enumerate(unit_rows(rng, min(step, size - start))):
            index.add(f"e{start + offset}", row)
    return index


def timings(run: Callable[[], object], repeats: int) -> np.ndarray:
    run()
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - started)
    return np.array(seconds) * 1000


def row(label: str, size: int, milliseconds: np.ndarray, per: int = 1) -> None:
    p50, p99 = np.percentile(milliseconds / per, [50, 99])
    print(f"| {size:,} | {label} | {p50:.3f} | {p99:.3f} | {len(milliseconds)} |")


def float16_scan(rows: np.ndarray, query: np.ndarray, chunk: int = 65_536) -> int:
    best, best_row = -2.0, -1
    buffer = np.empty((chunk, DIMENSIONS), dtype=np.float32)
    for start in range(0, len(rows), chunk):
        part = buffer[: min(chunk, len(rows) - start)]
        part[...] = rows[start : start + len(part)]
        scores = part @ query
        top = int(np.argmax(scores))
        if scores[top] > best:
            best, best_row = float(scores[top]), start + top
    return best_row


def measure(rng: np.random.Generator, size: int, with_float16: bool) -> None:
    index = filled_index(rng, size)
    repeats = 2000 if size <= 100_000 else 100
    queries = unit_rows(rng, repeats)
    positions = iter(range(repeats + 1))
    row("search, one query", size, timings(lambda: index.search(queries[next(positions) % repeats], 0.9), repeats))
    batch = unit_rows(rng, BATCH)
    thresholds = [0.9] * BATCH
    many = timings(lambda: index.search_many(batch, thresholds), max(10, repeats // BATCH))
    row(f"search_many of {BATCH}, per query", size, many, per=BATCH)
    if with_float16:
        half = np.asarray(unit_rows(rng, size), dtype=np.float16)
        row("float16 rows, chunked scan", size, timings(lambda: float16_scan(half, queries[0]), max(5, repeats // 20)))
    print(f"| {size:,} | rows take {size * DIMENSIONS * 4 / 2**20:,.0f} MiB (float32) |  |  |  |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--float16", action="store_true", help="also time float16 rows scanned in chunks")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print("| entries | lookup | p50 ms | p99 ms | samples |")
    print("|---:|---|---:|---:|---:|")
    for size in args.sizes:
        measure(rng, size, args.float16)


if __name__ == "__main__":
    main()
