"""A drift report: one row per feature of a route, as a plain-text table for the CLI and as JSON for the API."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

DRIFT = "drift"
NO_DRIFT = "no drift"
NOT_ENOUGH_DATA = "not enough data"

_VERDICT_ORDER = {DRIFT: 0, NO_DRIFT: 1, NOT_ENOUGH_DATA: 2}


@dataclass(frozen=True, slots=True)
class FeatureDrift:
    """One feature's comparison of the current window with the baseline.

    ``test`` is ``ks`` (numeric), ``chi2`` (categorical), ``mmd`` (embeddings) or ``presence`` (a field
    seen in only one window: the share of requests carrying it, compared with a 2 x 2 chi-square).
    """

    feature: str
    kind: str
    test: str | None
    statistic: float | None
    pvalue: float | None
    psi: float | None
    band: str | None
    baseline_samples: int
    current_samples: int
    verdict: str
    baseline_mean: float | None = None
    current_mean: float | None = None


@dataclass(frozen=True, slots=True)
class DriftReport:
    route: str
    frozen: bool  # False while the baseline is still being collected: there is nothing to compare yet
    baseline_requests: int
    current_requests: int
    rule: str
    rows: tuple[FeatureDrift, ...]

    @property
    def drifted(self) -> list[str]:
        return [row.feature for row in self.rows if row.verdict == DRIFT]


def _number(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "-"
    if value != 0.0 and (abs(value) < 10 ** -(digits - 1) or abs(value) >= 10**6):
        return f"{value:.2e}"
    return f"{value:.{digits}f}".rstrip("0").rstrip(".") if not value.is_integer() else f"{value:.0f}"


def _pvalue(value: float | None) -> str:
    if value is None:
        return "-"
    return "<1e-300" if value < 1e-300 else _number(value, 3)


def render_table(report: DriftReport) -> str:
    """The report as aligned plain text: a header, one line per feature (drifted first), the rule."""
    header = f"route {report.route}: baseline {report.baseline_requests} requests, current {report.current_requests}"
    if not report.frozen:
        return f"{header}\nbaseline still being collected; freeze it to start comparing\n"
    columns = ["feature", "kind", "test", "statistic", "p-value", "PSI", "band", "n base", "n cur", "verdict"]
    rows = sorted(report.rows, key=lambda row: (_VERDICT_ORDER.get(row.verdict, 3), row.feature))
    cells = [
        [
            row.feature,
            row.kind,
            row.test or "-",
            _number(row.statistic),
            _pvalue(row.pvalue),
            _number(row.psi, 3),
            row.band or "-",
            str(row.baseline_samples),
            str(row.current_samples),
            row.verdict,
        ]
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [columns, *cells]) for i in range(len(columns))]
    numeric = {3, 4, 5, 7, 8}

    def line(values: list[str]) -> str:
        return "  ".join(
            value.rjust(widths[i]) if i in numeric else value.ljust(widths[i]) for i, value in enumerate(values)
        ).rstrip()

    drifted = report.drifted
    summary = f"{len(drifted)} of {len(report.rows)} features drifted" + (f": {', '.join(drifted)}" if drifted else "")
    body = [header, summary, "", line(columns), line(["-" * width for width in widths])]
    body += [line(values) for values in cells]
    body += ["", f"rule: {report.rule}"]
    return "\n".join(body) + "\n"


def _finite(value: float | None) -> float | None:
    """JSON has no infinities or NaN; an undefined number is null."""
    return value if value is not None and math.isfinite(value) else None


def report_to_json(report: DriftReport) -> dict[str, Any]:
    return {
        "route": report.route,
        "frozen": report.frozen,
        "baseline_requests": report.baseline_requests,
        "current_requests": report.current_requests,
        "rule": report.rule,
        "drifted": report.drifted,
        "features": [
            {
                "feature": row.feature,
                "kind": row.kind,
                "test": row.test,
                "statistic": _finite(row.statistic),
                "pvalue": _finite(row.pvalue),
                "psi": _finite(row.psi),
                "band": row.band,
                "baseline_samples": row.baseline_samples,
                "current_samples": row.current_samples,
                "baseline_mean": _finite(row.baseline_mean),
                "current_mean": _finite(row.current_mean),
                "verdict": row.verdict,
            }
            for row in report.rows
        ],
    }
