"""The report's table and JSON forms."""

from __future__ import annotations

import math

import orjson

from keel.monitor.drift import DRIFT, NO_DRIFT, NOT_ENOUGH_DATA, DriftReport, FeatureDrift, render_table, report_to_json

ROWS = (
    FeatureDrift("turns", "numeric", "ks", 0.004, 0.93, 0.0002, "stable", 5000, 5000, NO_DRIFT, 2.5, 2.5),
    FeatureDrift("prompt_chars", "numeric", "ks", 0.21, 0.0, 0.31, "significant", 5000, 5000, DRIFT, 512.0, 768.0),
    FeatureDrift("embedding", "embedding", None, None, None, None, None, 12, 3, NOT_ENOUGH_DATA),
    FeatureDrift("language", "categorical", "chi2", 412.5, 3.1e-90, 0.17, "moderate", 5000, 5000, DRIFT),
)
REPORT = DriftReport("support", True, 5000, 5000, "drift when p < 0.001 and PSI >= 0.1", ROWS)


def test_table_lists_drifted_features_first() -> None:
    table = render_table(REPORT)
    lines = table.splitlines()
    assert lines[0] == "route support: baseline 5000 requests, current 5000"
    assert lines[1] == "2 of 4 features drifted: prompt_chars, language"
    body = [line for line in lines[3:] if line and not line.startswith(("feature", "-", "rule"))]
    assert [line.split()[0] for line in body] == ["language", "prompt_chars", "turns", "embedding"]
    assert "<1e-300" in table and "3.10e-90" in table and "significant" in table
    assert lines[-1] == "rule: drift when p < 0.001 and PSI >= 0.1"
    # Columns line up: every row's verdict starts where the header's does.
    header = next(line for line in lines if line.startswith("feature"))
    assert all(
        line.index(verdict) == header.index("verdict")
        for line, verdict in zip(body, ["drift", "drift", "no drift", "not enough data"], strict=True)
    )


def test_table_while_the_baseline_is_collected() -> None:
    table = render_table(DriftReport("support", False, 42, 0, "rule", ()))
    assert "baseline still being collected" in table


def test_json_is_plain_and_complete() -> None:
    document = report_to_json(REPORT)
    assert orjson.loads(orjson.dumps(document)) == document
    assert document["drifted"] == ["prompt_chars", "language"]
    row = document["features"][1]
    assert row == {
        "feature": "prompt_chars",
        "kind": "numeric",
        "test": "ks",
        "statistic": 0.21,
        "pvalue": 0.0,
        "psi": 0.31,
        "band": "significant",
        "baseline_samples": 5000,
        "current_samples": 5000,
        "baseline_mean": 512.0,
        "current_mean": 768.0,
        "verdict": "drift",
    }


def test_json_has_no_infinities() -> None:
    infinite = FeatureDrift("x", "numeric", "ks", math.inf, math.nan, 1.0, "significant", 1, 1, DRIFT)
    document = report_to_json(DriftReport("r", True, 1, 1, "rule", (infinite,)))
    assert document["features"][0]["statistic"] is None and document["features"][0]["pvalue"] is None
