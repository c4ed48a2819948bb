"""Measure the PII detector on presidio-research's labelled synthetic sentences in ``../shared/eval/pii``.

The file (1,500 sentences with character spans; source and licence in that folder's README) is read
where it lies, never copied. Its labels are mapped to Keel's entity types (``LABELS``); the types Keel
does not detect (``OUT_OF_SCOPE``: organisations, places, dates, titles, ages, nationalities, ZIP codes
alone, URLs, driver's licences) are not scored as misses, but a detection on one of their tokens counts as
a false positive for the type detected.

Three matching criteria, each giving precision, recall and F2 (beta = 2: recall weighs four times as much
as precision, since a missed leak costs more than an extra placeholder) per type and overall:
- token: every word or punctuation token is labelled with the type of the span covering it, for the gold
  and the predicted spans, and the labels are compared token by token (presidio-research's evaluator works
  this way);
- exact: a predicted span counts only if a gold span has the same type and the same bounds (ignoring
  surrounding whitespace and punctuation);
- overlap: a predicted span counts if it overlaps a gold span of the same type, and a gold span is found if
  a predicted one of its type overlaps it.

The sentences are split by template (a hash of ``template_id``) into ``dev`` and ``test`` halves: the
name and address rules were tuned looking at ``dev`` errors only, so ``test`` is the honest figure;
``all`` is there to compare with figures published for the whole file.

Latency: ``detect`` per sentence (p50/p99 over every sentence, after a warm-up), and on a 4,000-character
prompt with no personal data and on the same prompt with a few findings.

    .venv/bin/python bench/guards/pii_eval.py [--split test|dev|all] [--engine keel|presidio] [--errors N]

``--engine presidio`` scores Presidio's analyzer with its pattern recognisers and a tokeniser-only spaCy
pipeline (``spacy.blank``), which is how it runs offline; run it with a Python that has
``presidio-analyzer`` installed (not Keel's). It exits with a message, successfully, when the data is absent.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[3] / "shared" / "eval" / "pii" / "presidio-research_synth_dataset_v2.json"
LABELS = {
    "PERSON": "PERSON",
    "STREET_ADDRESS": "STREET_ADDRESS",
    "CREDIT_CARD": "CREDIT_CARD",
    "PHONE_NUMBER": "PHONE_NUMBER",
    "EMAIL_ADDRESS": "EMAIL",
    "IBAN_CODE": "IBAN",
    "US_SSN": "US_SSN",
    "IP_ADDRESS": "IP_ADDRESS",
}
OUT_OF_SCOPE = (
    "GPE",
    "ORGANIZATION",
    "DATE_TIME",
    "TITLE",
    "AGE",
    "NRP",
    "ZIP_CODE",
    "DOMAIN_NAME",
    "US_DRIVER_LICENSE",
)
# Found by heuristics rather than patterns; "overall, patterns" leaves them out.
HEURISTIC = ("PERSON", "STREET_ADDRESS")
BETA = 2.0
TOKEN = re.compile(r"\w+|[^\w\s]")
EDGE_JUNK = " \t\n.,;:!?\"'()<>"

Span = tuple[str, int, int]
Row = dict[str, Any]  # one sentence of the JSON file
Detect = Callable[[str], list[Span]]


@dataclass
class Counts:
    """Gold units found (tp) or missed (fn); predicted units right (right) or wrong (fp).

    For token and exact matching a right prediction is a found gold unit; for overlap matching they differ
    (one long prediction can cover two gold spans), so precision uses ``right`` and recall ``tp``.
    """

    tp: int = 0
    fp: int = 0
    fn: int = 0
    right: int = 0

    def add(self, other: Counts) -> None:
        self.tp, self.fp, self.fn = self.tp + other.tp, self.fp + other.fp, self.fn + other.fn
        self.right += other.right

    @property
    def precision(self) -> float:
        return self.right / (self.right + self.fp) if self.right + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f_beta(self) -> float:
        p, r = self.precision, self.recall
        return (1 + BETA**2) * p * r / (BETA**2 * p + r) if p + r else 0.0


@dataclass
class Scores:
    by_type: dict[str, Counts] = field(default_factory=dict)

    def counts(self, entity: str) -> Counts:
        return self.by_type.setdefault(entity, Counts())

    def overall(self, without: Iterable[str] = ()) -> Counts:
        total = Counts()
        for entity, counts in self.by_type.items():
            if entity not in without:
                total.add(counts)
        return total


def load(split: str) -> list[Row]:
    rows: list[Row] = json.loads(DATA.read_text(encoding="utf-8"))
    if split == "all":
        return rows
    return [row for row in rows if _split_of(row) == split]


def _split_of(row: Row) -> str:
    digest = hashlib.sha256(str(row["template_id"]).encode()).digest()
    return "dev" if digest[0] % 2 == 0 else "test"


def gold_spans(row: Row) -> list[Span]:
    spans = row["spans"]
    return [
        (LABELS[s["entity_type"]], s["start_position"], s["end_position"]) for s in spans if s["entity_type"] in LABELS
    ]


def _trim(text: str, span: Span) -> Span:
    entity, start, end = span
    while start < end and text[start] in EDGE_JUNK:
        start += 1
    while end > start and text[end - 1] in EDGE_JUNK:
        end -= 1
    return entity, start, end


def score_token(text: str, gold: list[Span], predicted: list[Span], scores: Scores) -> None:
    def labels(spans: list[Span]) -> list[str]:
        found = []
        for token in TOKEN.finditer(text):
            label = "O"
            for entity, start, end in spans:
                if start < token.end() and token.start() < end:
                    label = entity
                    break
            found.append(label)
        return found

    for gold_label, predicted_label in zip(labels(gold), labels(predicted), strict=True):
        if gold_label == predicted_label:
            if gold_label != "O":
                scores.counts(gold_label).tp += 1
                scores.counts(gold_label).right += 1
            continue
        if predicted_label != "O":
            scores.counts(predicted_label).fp += 1
        if gold_label != "O":
            scores.counts(gold_label).fn += 1


def score_exact(text: str, gold: list[Span], predicted: list[Span], scores: Scores) -> None:
    gold_set = {_trim(text, span) for span in gold}
    predicted_set = {_trim(text, span) for span in predicted}
    for entity, *_ in predicted_set & gold_set:
        scores.counts(entity).tp += 1
        scores.counts(entity).right += 1
    for entity, *_ in predicted_set - gold_set:
        scores.counts(entity).fp += 1
    for entity, *_ in gold_set - predicted_set:
        scores.counts(entity).fn += 1


def score_overlap(text: str, gold: list[Span], predicted: list[Span], scores: Scores) -> None:
    def overlaps(a: Span, b: Span) -> bool:
        return a[0] == b[0] and a[1] < b[2] and b[1] < a[2]

    for span in predicted:
        counts = scores.counts(span[0])
        if any(overlaps(span, g) for g in gold):
            counts.right += 1
        else:
            counts.fp += 1
    for span in gold:
        if any(overlaps(span, p) for p in predicted):
            scores.counts(span[0]).tp += 1
        else:
            scores.counts(span[0]).fn += 1


CRITERIA = {"token": score_token, "exact": score_exact, "overlap": score_overlap}


def keel_detector() -> Detect:
    from keel.guards.pii import PiiDetector

    detector = PiiDetector()

    def detect(text: str) -> list[Span]:
        return [(span.entity, span.start, span.end) for span in detector.detect(text)]

    return detect


def presidio_detector() -> Detect:
    import spacy  # type: ignore[import-not-found]
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry  # type: ignore[import-not-found]
    from presidio_analyzer.nlp_engine import SpacyNlpEngine  # type: ignore[import-not-found]

    class TokeniserOnlyEngine(SpacyNlpEngine):  # type: ignore[misc]
        """spaCy's blank English pipeline: tokens, no model to download, no named entities."""

        def load(self) -> None:
            self.nlp = {"en": spacy.blank("en")}

    engine = TokeniserOnlyEngine(models=[{"lang_code": "en", "model_name": "blank"}])
    engine.load()
    registry = RecognizerRegistry()
    registry.load_predefined_recognizers(nlp_engine=engine)
    registry.remove_recognizer("SpacyRecognizer")
    analyzer = AnalyzerEngine(nlp_engine=engine, registry=registry, supported_languages=["en"])
    entities = sorted(LABELS)  # Presidio names its types as the data set does

    def detect(text: str) -> list[Span]:
        results = analyzer.analyze(text=text, language="en", entities=entities)
        return _non_overlapping([(LABELS[r.entity_type], r.start, r.end, r.score) for r in results])

    return detect


def _non_overlapping(found: Iterable[tuple[str, int, int, float]]) -> list[Span]:
    """Presidio may return overlapping results; keep the best as Keel does (score, then length)."""
    kept: list[Span] = []
    for entity, start, end, _ in sorted(found, key=lambda f: (-f[3], f[1] - f[2], f[1])):
        if all(end <= s or e <= start for _, s, e in kept):
            kept.append((entity, start, end))
    return sorted(kept, key=lambda span: span[1])


def evaluate(rows: list[Row], detect: Detect, errors: int) -> dict[str, Scores]:
    results = {name: Scores() for name in CRITERIA}
    shown = 0
    for row in rows:
        text = str(row["full_text"])
        gold = gold_spans(row)
        predicted = detect(text)
        for name, criterion in CRITERIA.items():
            criterion(text, gold, predicted, results[name])
        if shown < errors and {_trim(text, g) for g in gold} != {_trim(text, p) for p in predicted}:
            shown += 1
            print(f"--- {text!r}")
            print("    gold:", [(e, text[s:t]) for e, s, t in gold])
            print("    got: ", [(e, text[s:t]) for e, s, t in predicted])
    return results


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def time_calls(detect: Detect, texts: list[str], repeat: int) -> list[float]:
    for text in texts[:50]:
        detect(text)
    timings = []
    for _ in range(repeat):
        for text in texts:
            started = time.perf_counter()
            detect(text)
            timings.append((time.perf_counter() - started) * 1000)
    return timings


PROSE = (
    "The service reads its settings when it starts and again whenever the file changes on disk. ",
    "Each request passes through the same stages in the same order, so a failure is easy to locate. ",
    "We measured the median and the tail of the latency over several runs and kept the quieter ones. ",
    "When the upstream answers slowly, the gateway retries once with a short backoff and then fails over. ",
    "Version 3.2 of the library changed the default timeout from 30 to 60 seconds, which surprised a few teams. ",
    "Please summarise the discussion below in five bullet points and keep the technical terms as they are. ",
    "The cache stores answers for ten minutes, and entries are evicted in the order they were least used. ",
    "In the second quarter the error rate fell to 0.4 percent after the connection pool was resized to 64. ",
)
PII_SNIPPETS = (
    "Contact Maria Keller at maria.keller@example.org or +44 20 7946 0958. ",
    "The card on file is 4539 1488 0343 6467 and the refund goes to DE89 3704 0044 0532 0130 00. ",
    "Ship it to 1600 Pennsylvania Ave NW, Washington, DC 20500 before Friday. ",
)


def prompt(length: int, with_pii: bool) -> str:
    pieces: list[str] = []
    index = 0
    while sum(map(len, pieces)) < length:
        pieces.append(PROSE[index % len(PROSE)])
        if with_pii and index % 7 == 3:
            pieces.append(PII_SNIPPETS[(index // 7) % len(PII_SNIPPETS)])
        index += 1
    return "".join(pieces)[:length]


def report(results: dict[str, Scores], split: str, engine: str, sentences: int) -> None:
    print(f"\nengine={engine} split={split} sentences={sentences}")
    for name, scores in results.items():
        print(f"\n[{name}]  {'type':<16}{'precision':>10}{'recall':>10}{'F2':>8}{'gold':>7}")
        for entity in sorted(scores.by_type):
            counts = scores.by_type[entity]
            gold = counts.tp + counts.fn
            print(f"  {entity:<22}{counts.precision:>10.3f}{counts.recall:>10.3f}{counts.f_beta:>8.3f}{gold:>7}")
        for label, total in (("overall", scores.overall()), ("overall, patterns", scores.overall(HEURISTIC))):
            print(f"  {label:<22}{total.precision:>10.3f}{total.recall:>10.3f}{total.f_beta:>8.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=("dev", "test", "all"), default="test")
    parser.add_argument("--engine", choices=("keel", "presidio"), default="keel")
    parser.add_argument("--errors", type=int, default=0, help="print this many sentences the detector got wrong")
    parser.add_argument("--repeat", type=int, default=200, help="timed runs of each 4,000-character prompt")
    args = parser.parse_args()
    if not DATA.exists():
        print(f"PII evaluation data not found at {DATA}; nothing to measure.")
        return 0
    detect = keel_detector() if args.engine == "keel" else presidio_detector()
    rows = load(args.split)
    report(evaluate(rows, detect, args.errors), args.split, args.engine, len(rows))
    out_of_scope = Counter(s["entity_type"] for row in rows for s in row["spans"] if s["entity_type"] in OUT_OF_SCOPE)
    print("\nnot scored (types not detected):", ", ".join(f"{k} {v}" for k, v in out_of_scope.most_common()))

    sentences = [str(row["full_text"]) for row in load("all")]
    per_sentence = time_calls(detect, sentences, 1)
    p50, p99 = percentile(per_sentence, 0.5), percentile(per_sentence, 0.99)
    print(f"\nlatency per sentence (ms): p50 {p50:.3f}  p99 {p99:.3f}")
    for with_pii in (False, True):
        timings = time_calls(detect, [prompt(4000, with_pii)], args.repeat)
        label = "4,000 chars with PII" if with_pii else "4,000 chars, no PII"
        print(f"latency {label:<22} (ms): p50 {percentile(timings, 0.5):.3f}  p99 {percentile(timings, 0.99):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
