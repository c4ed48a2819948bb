"""Time to embed one question, alone and with 15 other requests embedding at the same time.

Uses the questions of paraphrases.jsonl. For MiniLM, concurrent requests share one forward pass (see
``LocalMiniLM``), so the per-request time under concurrency is what a busy gateway pays.

    .venv/bin/python bench/semantic/embed_speed.py                 # hashing
    /work/venv-embed/bin/python bench/semantic/embed_speed.py      # hashing and MiniLM
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import numpy as np

from keel.cache.semantic.embedders import Embedder, EmbedderUnavailable, HashingEmbedder, LocalMiniLM

HERE = Path(__file__).resolve().parent
CONCURRENT = 16


def questions() -> list[str]:
    texts = []
    for line in (HERE / "paraphrases.jsonl").read_text().splitlines():
        group = json.loads(line)
        texts += [group["original"], *group["paraphrases"], group["near_miss"]]
    return texts


async def alone(embedder: Embedder, texts: list[str]) -> np.ndarray:
    seconds = []
    for text in texts:
        started = time.perf_counter()
        await embedder.embed([text])
        seconds.append(time.perf_counter() - started)
    return np.array(seconds) * 1000


async def together(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Each request's own wait, with CONCURRENT requests started at once."""

    async def one(text: str) -> float:
        started = time.perf_counter()
        await embedder.embed([text])
        return time.perf_counter() - started

    seconds: list[float] = []
    for start in range(0, len(texts) - CONCURRENT + 1, CONCURRENT):
        seconds += await asyncio.gather(*(one(text) for text in texts[start : start + CONCURRENT]))
    return np.array(seconds) * 1000


async def main() -> None:
    texts = questions()
    embedders: list[Embedder] = [HashingEmbedder()]
    try:
        embedders.append(LocalMiniLM())
    except EmbedderUnavailable as error:
        print(f"(skipping the local model: {error})")
    print("| embedder | requests at once | p50 ms | p99 ms | requests per second |")
    print("|---|---:|---:|---:|---:|")
    for embedder in embedders:
        await embedder.embed(["warm up"])
        for label, run in (("1", alone), (str(CONCURRENT), together)):
            started = time.perf_counter()
            milliseconds = await run(embedder, texts)
            rate = len(milliseconds) / (time.perf_counter() - started)
            p50, p99 = np.percentile(milliseconds, [50, 99])
            print(f"| {embedder.name} | {label} | {p50:.2f} | {p99:.2f} | {rate:,.0f} |")


if __name__ == "__main__":
    asyncio.run(main())
