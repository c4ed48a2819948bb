"""How often the semantic cache answers a reworded question, and how often it answers the wrong one.

The cache is seeded with the original question of every group in paraphrases.jsonl, each sent as the one
user turn of a chat request on one route, so the request rules of ``keel.cache.semantic.text`` apply
(questions with different numbers in them land in different partitions). Then every paraphrase is looked
up: a hit on its own group's original is a correct hit, a hit on another group's original is a wrong
answer. Every near-miss question is looked up too: any hit is a false hit, since it asks something else.
Finally three surface variants of every original, made here by rule (lower case without punctuation; a
greeting and a thank-you around it; two letters of its longest word swapped), show what an embedder does
with the same words typed differently. Each lookup's best match is computed once; a threshold turns it
into a hit or a miss exactly as ``SemanticCache.lookup`` would.

The recommended threshold is the lowest one (most hits) at which both the wrong-answer rate on
paraphrases and the false-hit rate on near-misses stay at or below ``--max-false``. To show how much that
choice depends on the questions it was chosen on, it is also chosen on the even-numbered groups alone and
scored on the odd-numbered ones.

    .venv/bin/python bench/semantic/evaluate.py                      # hashing embedder
    /work/venv-embed/bin/python bench/semantic/evaluate.py           # also MiniLM, when installed
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from keel.cache.semantic.cache import SemanticCache, SemanticHit
from keel.cache.semantic.embedders import Embedder, EmbedderUnavailable, HashingEmbedder, LocalMiniLM
from keel.cache.semantic.shared import MemoryEntryStore
from keel.cache.semantic.text import SemanticKey, semantic_key
from keel.cache.store import CachedAnswer

HERE = Path(__file__).resolve().parent
ROUTE = "bench"
# lookup() needs a positive threshold; this one lets every positive similarity through.
_ANY = 1e-9


@dataclass(frozen=True)
class Group:
    number: int
    group_id: str
    original: str
    paraphrases: list[str]
    near_miss: str


@dataclass(frozen=True)
class Outcome:
    """The best match of one query: its similarity, and whether it is the query's own group."""

    group: int
    similarity: float
    own_group: bool


@dataclass(frozen=True)
class Rates:
    hit: float
    wrong: float
    false_hit: float


def load_groups(path: Path) -> list[Group]:
    groups = []
    for number, line in enumerate(path.read_text().splitlines()):
        data = json.loads(line)
        groups.append(Group(number, data["id"], data["original"], data["paraphrases"], data["near_miss"]))
    return groups


async def outcomes(
    embedder: Embedder, groups: list[Group]
) -> tuple[list[Outcome], list[Outcome], list[Outcome], float]:
    """Best matches of every paraphrase, near-miss and surface variant; the mean embedding time per query (ms)."""
    cache = SemanticCache(embedder, MemoryEntryStore(), capacity=len(groups) + 1)
    for group in groups:
        answer = CachedAnswer(body={"group": group.group_id}, chunks=None, created_at=0.0, model=None)
        key = request_key(group.original)
        await cache.put(key.partition, key.text, answer, ttl_s=3600)
    paraphrases: list[Outcome] = []
    near_misses: list[Outcome] = []
    embed_seconds = 0.0
    queries = 0
    for group in groups:
        for text, sink in [(p, paraphrases) for p in group.paraphrases] + [(group.near_miss, near_misses)]:
            key = request_key(text)
            started = time.perf_counter()
            query = await cache.embed(key.text)
            embed_seconds += time.perf_counter() - started
            queries += 1
            hit = None if query is None else await cache.lookup(key.partition, query, _ANY)
            sink.append(outcome(group, hit))
    variants = []
    for group in groups:
        for text in surface_variants(group):
            key = request_key(text)
            variants.append(outcome(group, await cache.lookup(key.partition, key.text, _ANY)))
    await cache.aclose()
    return paraphrases, near_misses, variants, 1000 * embed_seconds / queries


def request_key(question: str) -> SemanticKey:
    key = semantic_key(ROUTE, None, {"model": ROUTE, "messages": [{"role": "user", "content": question}]})
    if key is None:
        raise ValueError(f"not a semantic cache candidate: {question!r}")
    return key


def outcome(group: Group, hit: SemanticHit | None) -> Outcome:
    if hit is None or hit.answer.body is None:
        return Outcome(group.number, 0.0, own_group=False)
    return Outcome(group.number, hit.similarity, hit.answer.body["group"] == group.group_id)


def surface_variants(group: Group) -> list[str]:
    """The original typed differently: no capitals or punctuation; wrapped in pleasantries; one typo."""
    bare = " ".join(re.findall(r"[\w']+", group.original.lower()))
    words = group.original.split()
    longest = max(range(len(words)), key=lambda i: len(words[i].strip("?.,!")))
    word = words[longest]
    middle = len(word.strip("?.,!")) // 2
    words[longest] = word[: middle - 1] + word[middle] + word[middle - 1] + word[middle + 1 :]
    return [bare, f"Hi there, {group.original} Thanks!", " ".join(words)]


def rates(paraphrases: list[Outcome], near_misses: list[Outcome], threshold: float) -> Rates:
    above = [o for o in paraphrases if o.similarity >= threshold]
    return Rates(
        hit=sum(o.own_group for o in above) / len(paraphrases),
        wrong=sum(not o.own_group for o in above) / len(paraphrases),
        false_hit=sum(o.similarity >= threshold for o in near_misses) / len(near_misses),
    )


def recommend(
    paraphrases: list[Outcome], near_misses: list[Outcome], grid: list[float], max_false: float
) -> float | None:
    for threshold in grid:
        measured = rates(paraphrases, near_misses, threshold)
        if measured.wrong <= max_false and measured.false_hit <= max_false:
            return threshold
    return None


def report(
    name: str,
    paraphrases: list[Outcome],
    near_misses: list[Outcome],
    variants: list[Outcome],
    embed_ms: float,
    args: argparse.Namespace,
) -> None:
    grid = [round(t, 2) for t in np.arange(args.low, 1.0 + 1e-9, 0.01)]
    shown = [t for t in grid if round((t - args.low) / args.step, 6).is_integer()]
    best = recommend(paraphrases, near_misses, grid, args.max_false)
    if best is not None and best not in shown:
        shown = sorted([*shown, best])
    print(
        f"\n### {name}: {len(paraphrases)} paraphrases, {len(near_misses)} near-misses, "
        f"{len(variants)} surface variants; embedding {embed_ms:.2f} ms a query\n"
    )
    print("| threshold | paraphrase hit | wrong answer | near-miss false hit | surface variant hit |")
    print("|---:|---:|---:|---:|---:|")
    for threshold in shown:
        measured = rates(paraphrases, near_misses, threshold)
        variant_hit = rates(variants, near_misses, threshold).hit
        mark = " **recommended**" if threshold == best else ""
        print(
            f"| {threshold:.2f}{mark} | {measured.hit:.1%} | {measured.wrong:.1%} | {measured.false_hit:.1%} "
            f"| {variant_hit:.1%} |"
        )
    if best is None:
        print(f"\nNo threshold keeps both false rates at or below {args.max_false:.0%}.")
        return
    print(f"\nRecommended threshold: {best:.2f} (lowest with wrong answers and false hits <= {args.max_false:.0%}).")
    even = [o for o in paraphrases if o.group % 2 == 0], [o for o in near_misses if o.group % 2 == 0]
    odd = [o for o in paraphrases if o.group % 2 == 1], [o for o in near_misses if o.group % 2 == 1]
    chosen = recommend(*even, grid, args.max_false)
    if chosen is None:
        print("Held out: no threshold qualifies on the even-numbered groups alone.")
        return
    held = rates(*odd, chosen)
    held_variants = rates([o for o in variants if o.group % 2 == 1], odd[1], chosen).hit
    print(
        f"Held out: chosen on even-numbered groups = {chosen:.2f}; on odd-numbered groups it gives paraphrase "
        f"hit {held.hit:.1%}, wrong answer {held.wrong:.1%}, near-miss false hit {held.false_hit:.1%}, "
        f"surface variant hit {held_variants:.1%}."
    )


def embedders(names: list[str]) -> list[Embedder]:
    chosen: list[Embedder] = []
    for name in names:
        if name == "hashing":
            chosen.append(HashingEmbedder())
            continue
        try:
            chosen.append(LocalMiniLM())
        except EmbedderUnavailable as error:
            print(f"(skipping the local model: {error})")
    return chosen


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=HERE / "paraphrases.jsonl")
    parser.add_argument("--embedder", nargs="+", choices=["hashing", "local"], default=["hashing", "local"])
    parser.add_argument("--low", type=float, default=0.50, help="lowest threshold of the sweep")
    parser.add_argument("--step", type=float, default=0.05, help="spacing of the rows printed")
    parser.add_argument("--max-false", type=float, default=0.01, help="tolerated wrong-answer and false-hit rate")
    args = parser.parse_args()
    groups = load_groups(args.data)
    for embedder in embedders(args.embedder):
        paraphrases, near_misses, variants, embed_ms = await outcomes(embedder, groups)
        report(embedder.name, paraphrases, near_misses, variants, embed_ms, args)


if __name__ == "__main__":
    asyncio.run(main())
