"""A shadow summary as JSON (the admin API, ``keel shadow report --json``) and as text (the CLI).

Amounts of money are exact strings with nine decimals in JSON, so no reader turns them into floats;
the table shows micro-dollars.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from keel.config.runtime import RuntimeConfig
from keel.shadow.config import CompareConfig
from keel.shadow.store import ShadowSummary

_NANO = Decimal("1e-9")
_MICRO = Decimal("0.000001")


def similar_at(config: RuntimeConfig, route: str) -> float:
    """The route's similarity threshold; the default for a route without shadow traffic (any more)."""
    found = config.routes.get(route)
    shadow = found.config.shadow if found is not None else None
    return (shadow.compare if shadow is not None else CompareConfig()).similar_at


def summary_json(summary: ShadowSummary) -> dict[str, Any]:
    return {
        "route": summary.route,
        "since": summary.since,
        "until": summary.until,
        "candidates": list(summary.candidates),
        "answered": summary.answered,
        "mirrored": summary.count,
        "errors": summary.errors,
        "similarity": {
            "compared": summary.compared,
            "mean": summary.similarity_mean,
            "p50": summary.similarity_p50,
            "similar_at": summary.similar_at,
            "similar": summary.similar,
            "similar_share": summary.similar_share,
        },
        "json": {"compared": summary.json_compared, "equal": summary.json_equal},
        "latency_ms": {
            "live": {"p50": summary.live_latency_p50_ms, "p99": summary.live_latency_p99_ms},
            "candidate": {"p50": summary.shadow_latency_p50_ms, "p99": summary.shadow_latency_p99_ms},
        },
        "cost_usd": {
            "priced": summary.priced,
            "live": _exact(summary.live_cost_usd),
            "candidate": _exact(summary.shadow_cost_usd),
            "difference": _exact(summary.cost_difference_usd),
        },
        "guards": {"checked": summary.guard_checked, "disagreements": dict(summary.guard_disagreements)},
    }


def print_summary(summary: ShadowSummary, console: Console) -> None:
    """The summary as a few lines and one table of live against candidate."""
    since = datetime.fromtimestamp(summary.since, UTC).strftime("%Y-%m-%d %H:%M")
    candidates = ", ".join(summary.candidates) or "(none)"
    console.print(f"route {summary.route}: shadow to {candidates}, since {since} UTC", highlight=False)
    if summary.count == 0:
        console.print(f"no shadow results in the window ({summary.answered:,} requests answered)", highlight=False)
        return
    mirrored = _share(summary.count, summary.answered)
    console.print(
        f"mirrored {summary.count:,} of {summary.answered:,} answered requests ({mirrored}); "
        f"the candidate failed {summary.errors:,} ({_share(summary.errors, summary.count)})",
        highlight=False,
    )
    table = Table("", "live", "candidate", "candidate - live")
    for column in table.columns[1:]:
        column.justify = "right"
    latency = (
        ("latency p50 (ms)", summary.live_latency_p50_ms, summary.shadow_latency_p50_ms),
        ("latency p99 (ms)", summary.live_latency_p99_ms, summary.shadow_latency_p99_ms),
    )
    for label, live, shadow in latency:
        difference = shadow - live if live is not None and shadow is not None else None
        table.add_row(label, _ms(live), _ms(shadow), _ms(difference))
    table.add_row(
        f"cost (USD, {summary.priced:,} priced)",
        _usd(summary.live_cost_usd),
        _usd(summary.shadow_cost_usd),
        _usd(summary.cost_difference_usd),
    )
    console.print(table)
    if summary.compared:
        console.print(
            f"similarity: mean {summary.similarity_mean:.3f}, p50 {summary.similarity_p50:.3f}; "
            f"{_share(summary.similar, summary.compared)} at or above "
            f"{summary.similar_at:g} ({summary.compared:,} compared)",
            highlight=False,
        )
    if summary.json_compared:
        console.print(f"JSON answers: {summary.json_equal:,} of {summary.json_compared:,} identical", highlight=False)
    if summary.guard_checked:
        differ = sum(summary.guard_disagreements.values())
        pairs = ", ".join(f"{pair} {n:,}" for pair, n in sorted(summary.guard_disagreements.items()))
        console.print(
            f"guard outcomes: {differ:,} of {summary.guard_checked:,} differ" + (f" ({pairs})" if pairs else ""),
            highlight=False,
        )


def _exact(amount: Decimal) -> str:
    return format(amount.quantize(_NANO), "f")


def _usd(amount: Decimal) -> str:
    return format(amount.quantize(_MICRO, rounding=ROUND_HALF_EVEN), "f")


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f}"


def _share(part: int, whole: int) -> str:
    return "n/a" if whole == 0 else f"{part / whole:.1%}"
