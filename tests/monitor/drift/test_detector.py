"""The drift monitor on synthetic traffic: shifts are flagged, same-distribution windows are not.

The decision rule (p < 0.001 and PSI >= 0.1, at least 1,000 samples a window) is what keeps the
no-drift cases stable: every seed below is a fresh independent sample of the baseline's distribution.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest

from keel.monitor.drift import (
    DRIFT,
    NO_DRIFT,
    NOT_ENOUGH_DATA,
    DriftConfig,
    DriftMonitor,
    DriftStateError,
    extract_features,
    report_to_json,
)
from keel.monitor.drift.report import DriftReport

FAST = DriftConfig(reservoir_size=256)
DIM = 16


def traffic(
    n: int,
    seed: int,
    *,
    length_scale: float = 1.0,
    german: float = 0.0,
    warranty: float = 0.0,
    embedding_shift: float = 0.0,
) -> tuple[dict[str, np.ndarray], dict[str, list[str]], np.ndarray]:
    rng = np.random.default_rng(seed)
    numeric = {
        "prompt_chars": np.round(rng.lognormal(6.0, 0.7, n) * length_scale),
        "turns": rng.integers(1, 5, n).astype(np.float64),
        "answer_chars": np.round(rng.gamma(3.0, 150.0, n)),
        "out.confidence": rng.beta(8.0, 2.0, n),
    }
    language = rng.choice(["en", "fr", "es"], n, p=[0.85, 0.10, 0.05]).astype(object)
    language[rng.random(n) < german] = "de"
    category = rng.choice(["billing", "shipping", "returns"], n, p=[0.5, 0.3, 0.2]).astype(object)
    category[rng.random(n) < warranty] = "warranty"
    categorical = {
        "language": list(language),
        "out.category": list(category),
        "finish_reason": list(rng.choice(["stop", "length"], n, p=[0.96, 0.04])),
    }
    embeddings = rng.normal(size=(n, DIM))
    embeddings[:, 0] += embedding_shift
    return numeric, categorical, embeddings


def monitor_with_baseline(config: DriftConfig = FAST, n: int = 5000, seed: int = 1) -> DriftMonitor:
    monitor = DriftMonitor(config)
    numeric, categorical, embeddings = traffic(n, seed)
    monitor.observe_many("support", n, numeric, categorical, embeddings)
    monitor.freeze_baseline("support")
    return monitor


def verdicts(report: DriftReport) -> dict[str, str]:
    return {row.feature: row.verdict for row in report.rows}


@pytest.mark.parametrize("seed", [2, 3, 4, 5])
def test_an_independent_sample_of_the_same_traffic_is_not_flagged(seed: int) -> None:
    monitor = monitor_with_baseline()
    numeric, categorical, embeddings = traffic(5000, seed)
    monitor.observe_many("support", 5000, numeric, categorical, embeddings)
    report = monitor.report("support")
    assert set(verdicts(report).values()) == {NO_DRIFT}
    assert report.drifted == []
    assert len(report.rows) == 9  # 4 numeric, 3 categorical, the topic share and the embeddings


def test_longer_prompts_are_flagged() -> None:
    monitor = monitor_with_baseline()
    numeric, categorical, embeddings = traffic(5000, 2, length_scale=1.5)
    monitor.observe_many("support", 5000, numeric, categorical, embeddings)
    report = monitor.report("support")
    assert report.drifted == ["prompt_chars"]
    row = next(r for r in report.rows if r.feature == "prompt_chars")
    assert row.test == "ks" and row.pvalue is not None and row.pvalue < 1e-100
    assert row.band == "significant"
    assert row.baseline_mean is not None and row.current_mean is not None
    assert row.current_mean / row.baseline_mean == pytest.approx(1.5, rel=0.05)


def test_a_new_language_share_and_a_new_category_are_flagged() -> None:
    monitor = monitor_with_baseline()
    numeric, categorical, embeddings = traffic(5000, 2, german=0.2, warranty=0.1)
    monitor.observe_many("support", 5000, numeric, categorical, embeddings)
    report = monitor.report("support")
    assert sorted(report.drifted) == ["language", "out.category"]
    row = next(r for r in report.rows if r.feature == "out.category")
    assert row.test == "chi2" and row.psi is not None and row.psi >= 0.25


def test_moved_embeddings_are_flagged() -> None:
    monitor = monitor_with_baseline()
    numeric, categorical, embeddings = traffic(5000, 2, embedding_shift=1.0)
    monitor.observe_many("support", 5000, numeric, categorical, embeddings)
    assert "embedding" in monitor.report("support").drifted


def test_a_new_kind_of_question_moves_the_topic_shares() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, DIM)) * 3.0

    def prompts(n: int, weights: list[float]) -> np.ndarray:
        return centres[rng.choice(4, n, p=weights)] + rng.normal(size=(n, DIM)) * 0.3

    monitor = DriftMonitor(DriftConfig(reservoir_size=256, topics=4))
    monitor.observe_many("support", 3000, embeddings=prompts(3000, [0.4, 0.3, 0.2, 0.1]))
    monitor.freeze_baseline("support")
    monitor.observe_many("support", 3000, embeddings=prompts(3000, [0.1, 0.2, 0.2, 0.5]))
    report = monitor.report("support")
    assert {"topic", "embedding"} <= set(report.drifted)
    topic = next(r for r in report.rows if r.feature == "topic")
    assert topic.baseline_samples == 256  # topics are counted on the baseline's reservoir


def test_too_few_samples_is_not_a_verdict() -> None:
    monitor = monitor_with_baseline()
    numeric, categorical, embeddings = traffic(150, 2, length_scale=3.0, german=0.5)
    monitor.observe_many("support", 150, numeric, categorical, embeddings)
    assert set(verdicts(monitor.report("support")).values()) == {NOT_ENOUGH_DATA}


def test_fields_that_appear_or_vanish_are_compared_by_presence() -> None:
    monitor = monitor_with_baseline()
    numeric, categorical, embeddings = traffic(5000, 2)
    rng = np.random.default_rng(9)
    numeric["out.discount"] = np.where(rng.random(5000) < 0.3, rng.uniform(0, 50, 5000), np.nan)
    numeric["out.rare"] = np.where(rng.random(5000) < 0.003, 1.0, np.nan)
    del numeric["out.confidence"]
    monitor.observe_many("support", 5000, numeric, categorical, embeddings)
    report = monitor.report("support")
    rows = {row.feature: row for row in report.rows}
    assert rows["out.discount"].test == "presence" and rows["out.discount"].verdict == DRIFT
    assert rows["out.confidence"].test == "presence" and rows["out.confidence"].verdict == DRIFT
    assert rows["out.rare"].verdict == NO_DRIFT  # 0.3% of requests: too small a change to matter
    assert sorted(report.drifted) == ["out.confidence", "out.discount"]


def without_sums(state: Any) -> Any:
    if isinstance(state, dict):
        return {key: without_sums(value) for key, value in state.items() if key != "total"}
    return state


def test_single_batched_and_columnar_observation_agree() -> None:
    numeric, categorical, _ = traffic(300, 7)
    rows: list[dict[str, Any]] = [
        {**{k: float(v[i]) for k, v in numeric.items()}, **{k: v[i] for k, v in categorical.items()}}
        for i in range(300)
    ]
    one, batch, columns = DriftMonitor(), DriftMonitor(), DriftMonitor()
    for features in rows:
        one.observe("r", features)
    batch.observe_batch("r", rows)
    columns.observe_many("r", 300, numeric, categorical)
    # Sums of a column can round differently from one-by-one sums; everything else is identical.
    assert without_sums(batch.to_state()) == without_sums(one.to_state()) == without_sums(columns.to_state())
    for monitor in (batch, columns):
        monitor.freeze_baseline("r")
    one.freeze_baseline("r")
    for monitor in (one, batch, columns):
        monitor.observe_batch("r", rows)
    reports = [report_to_json(monitor.report("r")) for monitor in (one, batch, columns)]
    for report in reports:
        for row in report["features"]:
            for key in ("baseline_mean", "current_mean"):
                row[key] = round(row[key], 6) if row[key] is not None else None
    assert reports[0] == reports[1] == reports[2]


def test_features_from_real_requests_flow_through() -> None:
    monitor = DriftMonitor(DriftConfig(min_samples=50))
    english = "Where is my parcel? I ordered it two weeks ago and the tracking page has not changed since."
    german = "Wo ist mein Paket? Ich habe es vor zwei Wochen bestellt und die Sendungsverfolgung zeigt nichts."
    reply = {
        "choices": [{"finish_reason": "stop", "message": {"role": "assistant", "content": '{"category": "shipping"}'}}]
    }
    for i in range(200):
        monitor.observe(
            "support", extract_features({"messages": [{"role": "user", "content": english + " " * (i % 7)}]}, reply)
        )
    monitor.freeze_baseline("support")
    for i in range(200):
        text = german if i % 2 else english
        monitor.observe(
            "support", extract_features({"messages": [{"role": "user", "content": text + " " * (i % 7)}]}, reply)
        )
    report = monitor.report("support")
    assert "language" in report.drifted
    assert verdicts(report)["out.category"] == NO_DRIFT


def test_merged_replicas_equal_one_monitor() -> None:
    config = DriftConfig()
    numeric, categorical, _ = traffic(4000, 11)
    later, later_categories, _ = traffic(4000, 12, length_scale=1.5)

    def half(columns: dict[str, Any], part: slice) -> dict[str, Any]:
        return {name: values[part] for name, values in columns.items()}

    single = DriftMonitor(config)
    single.observe_many("r", 4000, numeric, categorical)
    first, second = DriftMonitor(config), DriftMonitor(config)
    first.observe_many("r", 2500, half(numeric, slice(0, 2500)), half(categorical, slice(0, 2500)))
    second.observe_many("r", 1500, half(numeric, slice(2500, None)), half(categorical, slice(2500, None)))
    first.merge(second)
    single.freeze_baseline("r")
    first.freeze_baseline("r")
    # Ship the frozen baseline to a replica, let both observe, merge the current windows.
    replica = DriftMonitor.from_state(orjson.loads(orjson.dumps(first.to_state())))
    single.observe_many("r", 4000, later, later_categories)
    first.observe_many("r", 1000, half(later, slice(0, 1000)), half(later_categories, slice(0, 1000)))
    replica.observe_many("r", 3000, half(later, slice(1000, None)), half(later_categories, slice(1000, None)))
    first.merge(replica)
    merged, alone = report_to_json(first.report("r")), report_to_json(single.report("r"))
    for row in (*merged["features"], *alone["features"]):
        for key in ("baseline_mean", "current_mean"):  # sums added in another order
            row[key] = round(row[key], 6) if row[key] is not None else None
    assert merged == alone
    assert merged["drifted"] == ["prompt_chars"]


def test_merge_refuses_incompatible_states() -> None:
    one, other = monitor_with_baseline(seed=1), monitor_with_baseline(seed=2)
    with pytest.raises(DriftStateError, match="different baselines"):
        one.merge(other)
    collecting = DriftMonitor(FAST)
    collecting.observe("support", {"turns": 1.0})
    with pytest.raises(DriftStateError, match="still collecting"):
        one.merge(collecting)
    with pytest.raises(DriftStateError, match="configurations"):
        one.merge(DriftMonitor())


def test_phases() -> None:
    monitor = DriftMonitor(FAST)
    with pytest.raises(DriftStateError):
        monitor.freeze_baseline("nope")
    monitor.observe("r", {"turns": 2.0})
    report = monitor.report("r")
    assert not report.frozen and report.baseline_requests == 1 and report.rows == ()
    with pytest.raises(DriftStateError):
        monitor.restart_current("r")
    monitor.freeze_baseline("r")
    with pytest.raises(DriftStateError):
        monitor.freeze_baseline("r")
    monitor.observe("r", {"turns": 3.0})
    assert monitor.report("r").current_requests == 1
    monitor.restart_current("r")
    assert monitor.report("r").current_requests == 0
    monitor.reset("r")
    assert monitor.routes() == []


def test_state_round_trip_and_bounded_memory() -> None:
    sizes = []
    for n in (10_000, 100_000):
        monitor = DriftMonitor(FAST)
        numeric, categorical, embeddings = traffic(n, 1)
        # Bounded ranges, so that both sizes reach every bucket: what remains is the digits of the counts.
        for name, (low, high) in {"prompt_chars": (100, 1500), "answer_chars": (100, 1500)}.items():
            numeric[name] = np.clip(numeric[name], low, high)
        numeric["out.confidence"] = np.clip(numeric["out.confidence"], 0.5, 0.95)
        monitor.observe_many("support", n, numeric, categorical, embeddings)
        monitor.freeze_baseline("support")
        monitor.observe_many("support", n, numeric, categorical, embeddings)
        state = orjson.dumps(monitor.to_state())
        restored = DriftMonitor.from_state(orjson.loads(state))
        assert report_to_json(restored.report("support")) == report_to_json(monitor.report("support"))
        sizes.append(len(state))
    assert abs(sizes[1] - sizes[0]) <= 0.01 * sizes[0]


def test_feature_count_is_bounded() -> None:
    monitor = DriftMonitor(DriftConfig(max_features=5))
    monitor.observe("r", {f"f{i}": float(i) for i in range(20)})
    assert len(monitor.to_state()["routes"]["r"]["baseline"]["quantiles"]) == 5
