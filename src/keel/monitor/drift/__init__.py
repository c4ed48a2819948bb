"""Drift monitoring: per-route features in mergeable, bounded sketches, compared with scipy-checked tests.

``extract_features`` reads a chat request and its answer; ``DriftMonitor`` keeps a baseline and a current
window per route and reports, per feature, the test, its statistic and p-value, PSI and a verdict;
``render_table`` and ``report_to_json`` present the report. See docs/drift.md.
"""

from keel.monitor.drift.config import DriftConfig
from keel.monitor.drift.detector import DriftMonitor, DriftStateError
from keel.monitor.drift.features import extract_features
from keel.monitor.drift.report import (
    DRIFT,
    NO_DRIFT,
    NOT_ENOUGH_DATA,
    DriftReport,
    FeatureDrift,
    render_table,
    report_to_json,
)

__all__ = [
    "DRIFT",
    "NOT_ENOUGH_DATA",
    "NO_DRIFT",
    "DriftConfig",
    "DriftMonitor",
    "DriftReport",
    "DriftStateError",
    "FeatureDrift",
    "extract_features",
    "render_table",
    "report_to_json",
]
