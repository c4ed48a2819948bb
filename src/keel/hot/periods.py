"""Budget periods on the UTC calendar: which period an instant falls in, and when that period ends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from keel.hot.config import BudgetPeriod


@dataclass(frozen=True, slots=True)
class Period:
    key: str
    """``day:2026-11-25``, ``week:2026-W48`` (ISO week) or ``month:2026-11``."""
    starts_at: float
    ends_at: float
    """Epoch seconds; the period is ``[starts_at, ends_at)``."""


def period_at(period: BudgetPeriod, now: float) -> Period:
    moment = datetime.fromtimestamp(now, tz=UTC)
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        start, end = midnight, midnight + timedelta(days=1)
        key = f"day:{start:%Y-%m-%d}"
    elif period == "week":
        start = midnight - timedelta(days=moment.weekday())
        end = start + timedelta(days=7)
        iso = moment.isocalendar()
        # The ISO year, not the calendar year: 2027-01-01 is in week 2026-W53.
        key = f"week:{iso.year}-W{iso.week:02d}"
    else:
        start = midnight.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
        key = f"month:{start:%Y-%m}"
    return Period(key, start.timestamp(), end.timestamp())
