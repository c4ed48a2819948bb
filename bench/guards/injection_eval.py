"""Measure the prompt-injection detector on the public labelled data in ``../shared/eval/injection``.

The data (sources and licences in that folder's README) is loaded, de-duplicated on normalised text and
split deterministically by a hash of that text: 70% train, 15% validation, 15% test. The same split is used
by ``train_injection.py``, which fits on train and chooses the threshold on validation; this script reports
on test (or any split named with ``--split``): recall on every attack source, false-positive rate on every
benign one (hard negatives included), overall precision / recall / F1, a PINT-style score and latency.

Besides the shared files it uses one local benign source, ``python-docs``: the Python reference manual text
that ships with the interpreter (``pydoc_data.topics``), cut into 1,500-4,000 character passages, to stand
for the long, ordinary documents a gateway sees and that the public sets lack.

    .venv/bin/python bench/guards/injection_eval.py [--split test] [--embeddings] [--out FILE]

It exits with a message, successfully, when ``../shared/eval`` is absent.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import itertools
import json
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))  # the repository's Keel, from any venv

from keel.guards.injection.normalise import normalise

EVAL_DIR = Path(__file__).resolve().parents[3] / "shared" / "eval" / "injection"
SPLITS = ("train", "validation", "test")
HARD_NEGATIVES = ("injecguard_NotInject", "xstest_prompts:safe", "mtbench_questions:roleplay")
DOC_PASSAGE = (1500, 4000)
SHORT_ATTACKS = ("deepset_prompt_injections", "giskard_prompt_injections")

csv.field_size_limit(1 << 24)


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    attack: bool
    source: str
    """File stem, with a sub-group after a colon where the file has meaningful ones (method, category)."""
    split: str


def split_of(key: str) -> str:
    """Deterministic split from a hash of the normalised text: identical texts always fall together."""
    bucket = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % 100
    return "train" if bucket < 70 else "validation" if bucket < 85 else "test"


def load_examples(eval_dir: Path = EVAL_DIR) -> list[Example]:
    """All labelled prompts, de-duplicated on normalised text; texts labelled both ways are dropped."""
    seen: dict[str, tuple[str, bool, str]] = {}
    conflicts: set[str] = set()
    for text, attack, source in _raw_rows(eval_dir):
        key = normalise(text).text
        if not key:
            continue
        if key in seen and seen[key][1] != attack:
            conflicts.add(key)
        seen.setdefault(key, (text, attack, source))
    return [
        Example(text=text, attack=attack, source=source, split=split_of(key))
        for key, (text, attack, source) in seen.items()
        if key not in conflicts
    ]


def _raw_rows(eval_dir: Path) -> Iterator[tuple[str, bool, str]]:
    for row in _csv(eval_dir / "jbb_artifacts_attack_prompts.csv"):
        yield row["prompt"], True, f"jbb_artifacts_attack_prompts:{row['method']}"
    for row in _csv(eval_dir / "verazuo_jailbreak_prompts_2023_05_07.csv"):
        yield row["prompt"], True, "verazuo_jailbreak_prompts"
    for row in _csv(eval_dir / "giskard_prompt_injections.csv"):
        yield row["prompt"], True, "giskard_prompt_injections"
    for row in _csv(eval_dir / "deepset_prompt_injections_lowercased_mirror.csv"):
        attack = row["label"] == "1"
        yield row["text"], attack, f"deepset_prompt_injections:{'attack' if attack else 'benign'}"
    for row in _csv(eval_dir / "injecguard_NotInject.csv"):
        yield row["prompt"], False, "injecguard_NotInject"
    for row in _csv(eval_dir / "injecguard_wildguard_benign.csv"):
        yield row["prompt"], False, "injecguard_wildguard_benign"
    for row in _csv(eval_dir / "xstest_prompts.csv"):
        yield row["prompt"], False, f"xstest_prompts:{row['label']}"
    with (eval_dir / "mtbench_questions.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            question = json.loads(line)
            for turn in question["turns"]:
                yield turn, False, f"mtbench_questions:{question['category']}"
    for passage in _python_docs():
        yield passage, False, "python-docs"


def _csv(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        yield from csv.DictReader(handle)


def _python_docs() -> Iterator[str]:
    """Passages of the reference manual bundled with CPython, cut at paragraph breaks."""
    from pydoc_data.topics import topics

    low, high = DOC_PASSAGE
    for name in sorted(topics):
        passage = ""
        for paragraph in topics[name].split("\n\n"):
            if passage and len(passage) + len(paragraph) > high:
                if len(passage) >= low:
                    yield passage
                passage = ""
            passage = f"{passage}\n\n{paragraph}" if passage else paragraph[:high]
        if len(passage) >= low:
            yield passage


@dataclass
class Tally:
    total: int = 0
    flagged: int = 0

    @property
    def rate(self) -> float:
        return self.flagged / self.total if self.total else 0.0


def evaluate(scores: Iterable[tuple[Example, float]], threshold: float) -> dict[str, object]:
    """Per-source rates and overall precision / recall / F1 / PINT-style score at ``threshold``."""
    by_source: dict[str, Tally] = defaultdict(Tally)
    by_file: dict[str, Tally] = defaultdict(Tally)
    classes = {True: Tally(), False: Tally()}
    for example, score in scores:
        hit = score >= threshold
        for tally in (by_source[example.source], by_file[_file_of(example)], classes[example.attack]):
            tally.total += 1
            tally.flagged += hit
    attacks, benign = classes[True], classes[False]
    tp, fp = attacks.flagged, benign.flagged
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = attacks.rate
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "threshold": threshold,
        "attacks": attacks.total,
        "benign": benign.total,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "false_positive_rate": benign.rate,
        "pint_style": (recall + (1.0 - benign.rate)) / 2,
        "sources": {name: (t.total, t.flagged) for name, t in sorted(by_source.items())},
        "files": {name: (t.total, t.flagged) for name, t in sorted(by_file.items())},
    }


def _file_of(example: Example) -> str:
    """The file stem, keeping the attack/benign half of deepset and the safe/unsafe half of xstest apart."""
    stem = example.source.partition(":")[0]
    return example.source if stem in ("deepset_prompt_injections", "xstest_prompts") else stem


def buried_attacks(examples: list[Example]) -> list[str]:
    """Short attacks of the split each inserted mid-way into a long benign document of the same split.

    This stands for indirect injection (an instruction hidden in a retrieved page or file), which none
    of the public sets covers: the document dilutes the attack for the whole-prompt layers.
    """
    documents = [e.text for e in examples if e.source == "python-docs"]
    attacks = [e.text for e in examples if e.attack and len(e.text) <= 300 and e.source.startswith(SHORT_ATTACKS)]
    return [
        f"{doc[: len(doc) // 2]}\n{attack}\n{doc[len(doc) // 2 :]}"
        for doc, attack in zip(itertools.cycle(documents), attacks, strict=False)
    ]


def latency(score: Callable[[str], object], text: str, runs: int) -> tuple[float, float]:
    """p50 and p99 in milliseconds of ``score(text)`` over ``runs`` calls after a warm-up."""
    for _ in range(10):
        score(text)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        score(text)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(0.99 * len(samples)))]


def render(
    report: dict[str, Any], buried: tuple[int, int], timings: dict[str, tuple[int, float, float]], label: str
) -> str:
    lines = [
        f"### {label}",
        "",
        f"Threshold {report['threshold']:.3f}; {report['attacks']} attacks, {report['benign']} benign prompts.",
        "",
        "| source | label | n | flagged | recall / false-positive rate |",
        "|---|---|---:|---:|---:|",
    ]
    for name, (total, flagged) in report["files"].items():
        kind = "benign" if _is_benign(name) else "attack"
        metric = "FPR" if kind == "benign" else "recall"
        hard = " (hard negatives)" if name in HARD_NEGATIVES or name == "injecguard_NotInject" else ""
        lines.append(f"| {name}{hard} | {kind} | {total} | {flagged} | {metric} {flagged / total:.3f} |")
    lines += ["", "| sub-group | n | flagged | rate |", "|---|---:|---:|---:|"]
    for name, (total, flagged) in report["sources"].items():
        if ":" in name and name not in report["files"]:
            lines.append(f"| {name} | {total} | {flagged} | {flagged / total:.3f} |")
    lines += [
        "",
        "| precision | recall | F1 | false-positive rate | PINT-style score |",
        "|---:|---:|---:|---:|---:|",
        f"| {report['precision']:.3f} | {report['recall']:.3f} | {report['f1']:.3f} | "
        f"{report['false_positive_rate']:.3f} | {report['pint_style']:.3f} |",
        "",
        "PINT-style score = (attack recall + benign accuracy) / 2 = (TP / attacks + TN / benign) / 2.",
        "",
        f"Buried attacks (a short attack of the split inserted mid-way into a python-docs passage): "
        f"{buried[1]} of {buried[0]} flagged, recall {buried[1] / max(buried[0], 1):.3f}.",
        "",
        "| prompt | chars | p50 ms | p99 ms |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {name} | {chars} | {p50:.2f} | {p99:.2f} |" for name, (chars, p50, p99) in timings.items()]
    return "\n".join(lines) + "\n"


def _is_benign(file_name: str) -> bool:
    attack_files = ("jbb_", "verazuo_", "giskard_", "deepset_prompt_injections:attack")
    return not file_name.startswith(attack_files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=SPLITS, default="test")
    parser.add_argument("--embeddings", action="store_true", help="add the optional semantic layer")
    parser.add_argument("--data", type=Path, help="trained data directory (default: the shipped one)")
    parser.add_argument("--threshold", type=float, help="override the validated threshold")
    parser.add_argument("--runs", type=int, default=500, help="calls per latency measurement")
    parser.add_argument("--out", type=Path, help="also write the markdown report here")
    args = parser.parse_args()
    if not EVAL_DIR.is_dir():
        print(f"no evaluation data at {EVAL_DIR}; skipping")
        return
    from keel.guards.injection.detector import DATA_DIR, InjectionDetector

    detector = InjectionDetector(semantic=args.embeddings, threshold=args.threshold, data_dir=args.data or DATA_DIR)
    examples = [e for e in load_examples() if e.split == args.split]
    scored = [(e, detector.score(e.text).score) for e in examples]
    report = evaluate(scored, detector.threshold)
    hidden = buried_attacks(examples)
    buried = (len(hidden), sum(detector.score(text).flagged for text in hidden))
    long_doc = "\n\n".join(_python_docs())[:4000]
    long_attack = max((e.text for e in examples if e.attack and len(e.text) <= 4000), key=len)
    timings = {
        "short benign": (38, *latency(detector.score, "What is the capital city of Australia?", args.runs)),
        "4,000-char document": (len(long_doc), *latency(detector.score, long_doc, args.runs)),
        "longest test attack <= 4,000 chars": (len(long_attack), *latency(detector.score, long_attack, args.runs)),
    }
    layers = "lexical + embeddings" if args.embeddings else "lexical"
    text = render(report, buried, timings, f"{args.split} split, {layers} layers")
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
