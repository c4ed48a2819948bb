"""Five-field cron expressions (minute hour day-of-month month day-of-week) and their next firing time.

Canary suites are scheduled with the cron syntax operators already know, so it follows Vixie cron:
``*``, lists (``1,15``), ranges (``MON-FRI``), steps (``*/15``, ``8-18/2``, ``5/10``), month and
weekday names, 0 or 7 for Sunday, the ``@hourly``-style shorthands, and the rule that when both
day-of-month and day-of-week are restricted a day matching either one fires. A field written with a
leading ``*`` (``*/2`` included) counts as unrestricted for that rule, as in Vixie cron. Times are UTC.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")

_SHORTHANDS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

# The longest gap between two firings of a satisfiable expression is from one 29 February to the
# next across a skipped leap year (2096 to 2104); searching beyond that means nothing will ever match.
_SEARCH_YEARS = 9


class CronError(ValueError):
    """A cron expression that cannot be parsed or can never fire."""


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    name_base: int = 0


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day-of-month", 1, 31),
    _Field("month", 1, 12, _MONTHS, 1),
    # 7 is accepted as a second Sunday and folded onto 0 after parsing.
    _Field("day-of-week", 0, 7, _DAYS, 0),
)


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """A parsed expression: the allowed values of each field (weekdays 0-6, Sunday 0)."""

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    days_restricted: bool
    weekdays_restricted: bool

    def matches(self, at: datetime) -> bool:
        """Whether the schedule fires in the minute of ``at`` (read in UTC)."""
        at = _utc(at)
        return at.minute in self.minutes and at.hour in self.hours and self._day_matches(at)

    def _day_matches(self, at: datetime) -> bool:
        if at.month not in self.months:
            return False
        by_day = at.day in self.days
        by_weekday = (at.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return by_day or by_weekday
        return by_day and by_weekday


def parse(expression: str) -> CronSchedule:
    """Parse ``expression``; raises ``CronError`` naming the field at fault."""
    text = " ".join(expression.split())
    fields = _SHORTHANDS.get(text.lower(), text).split(" ")
    if len(fields) != 5:
        raise CronError(f"cron expression {expression!r} must have 5 fields (minute hour day month weekday)")
    values = [_parse_field(part, spec, expression) for part, spec in zip(fields, _FIELDS, strict=True)]
    weekdays = frozenset(d % 7 for d in values[4])
    schedule = CronSchedule(
        expression=text,
        minutes=values[0],
        hours=values[1],
        days=values[2],
        months=values[3],
        weekdays=weekdays,
        days_restricted=not fields[2].startswith("*"),
        weekdays_restricted=not fields[4].startswith("*"),
    )
    if not schedule.weekdays_restricted and not _some_day_exists(schedule.days, schedule.months):
        raise CronError(f"cron expression {expression!r} never fires: no chosen month has the chosen days")
    return schedule


def next_after(expression: str | CronSchedule, after: datetime) -> datetime:
    """The first firing time strictly after ``after``, in UTC (``after`` must be timezone-aware)."""
    schedule = parse(expression) if isinstance(expression, str) else expression
    at = _utc(after).replace(second=0, microsecond=0) + timedelta(minutes=1)
    limit = at.year + _SEARCH_YEARS
    while at.year <= limit:
        if at.month not in schedule.months:
            at = _first_of_next_month(at)
        elif not schedule._day_matches(at):
            at = at.replace(hour=0, minute=0) + timedelta(days=1)
        elif at.hour not in schedule.hours:
            at = at.replace(minute=0) + timedelta(hours=1)
        elif at.minute not in schedule.minutes:
            at += timedelta(minutes=1)
        else:
            return at
    raise CronError(f"cron expression {schedule.expression!r} never fires")


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("cron times must be timezone-aware (use datetime.now(UTC))")
    return at.astimezone(UTC)


def _first_of_next_month(at: datetime) -> datetime:
    if at.month == 12:
        return at.replace(year=at.year + 1, month=1, day=1, hour=0, minute=0)
    return at.replace(month=at.month + 1, day=1, hour=0, minute=0)


def _some_day_exists(days: frozenset[int], months: frozenset[int]) -> bool:
    # A leap year, so that "29 February" counts as possible.
    return any(day <= calendar.monthrange(2000, month)[1] for month in months for day in days)


def _parse_field(text: str, spec: _Field, expression: str) -> frozenset[int]:
    def fail(problem: str) -> CronError:
        return CronError(f"cron expression {expression!r}: {spec.name} {text!r}: {problem}")

    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise fail("empty list item")
        span, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) < 1:
                raise fail(f"step {step_text!r} must be a whole number of at least 1")
            step = int(step_text)
        if span == "*":
            low, high = spec.low, spec.high
        elif "-" in span:
            start, _, end = span.partition("-")
            low, high = _value(start, spec, fail), _value(end, spec, fail)
            if low > high:
                raise fail(f"range {span!r} runs backwards")
        else:
            low = _value(span, spec, fail)
            # "5/10" means from 5 to the end of the field in steps of 10.
            high = spec.high if slash else low
        values.update(range(low, high + 1, step))
    return frozenset(values)


def _value(text: str, spec: _Field, fail: Callable[[str], CronError]) -> int:
    upper = text.upper()
    if upper in spec.names:
        return spec.names.index(upper) + spec.name_base
    if not text.isdigit():
        expected = f"a number {spec.low}-{spec.high}" + (" or a name like " + spec.names[0] if spec.names else "")
        raise fail(f"{text!r} is not {expected}")
    number = int(text)
    if not spec.low <= number <= spec.high:
        raise fail(f"{number} is outside {spec.low}-{spec.high}")
    return number
