"""The cron parser against a table of known firing times, worked out by hand from a calendar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from keel.canary.cron import CronError, next_after, parse


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# 2024-01-01 is a Monday; 2024 is a leap year, 2100 is not.
KNOWN = [
    ("* * * * *", "2024-01-01T00:00:00", "2024-01-01T00:01:00"),
    ("* * * * *", "2024-01-01T00:00:30", "2024-01-01T00:01:00"),
    ("*/15 * * * *", "2024-01-01T10:07:00", "2024-01-01T10:15:00"),
    ("*/15 * * * *", "2024-01-01T10:45:00", "2024-01-01T11:00:00"),
    ("0 * * * *", "2024-01-01T23:30:00", "2024-01-02T00:00:00"),
    ("5/20 * * * *", "2024-01-01T10:30:00", "2024-01-01T10:45:00"),
    ("5,10-12 8-10/2 * * *", "2024-01-01T08:12:00", "2024-01-01T10:05:00"),
    # Friday 10:00 -> Monday 09:30.
    ("30 9 * * MON-FRI", "2024-01-05T10:00:00", "2024-01-08T09:30:00"),
    ("30 9 * * mon-fri", "2024-01-06T00:00:00", "2024-01-08T09:30:00"),
    # Sunday is 0, 7 or SUN.
    ("0 12 * * 7", "2024-01-01T00:00:00", "2024-01-07T12:00:00"),
    ("0 12 * * 0", "2024-01-01T00:00:00", "2024-01-07T12:00:00"),
    ("0 12 * * SUN", "2024-01-01T00:00:00", "2024-01-07T12:00:00"),
    ("0 12 * * 5-7", "2024-01-01T00:00:00", "2024-01-05T12:00:00"),
    ("0 0 1 JAN,JUL *", "2024-02-01T00:00:00", "2024-07-01T00:00:00"),
    ("0 0 1 1 *", "2024-06-01T00:00:00", "2025-01-01T00:00:00"),
    ("59 23 31 12 *", "2024-12-31T23:59:00", "2025-12-31T23:59:00"),
    ("0 0 31 * *", "2024-04-01T00:00:00", "2024-05-31T00:00:00"),
    ("0 0 29 2 *", "2024-03-01T00:00:00", "2028-02-29T00:00:00"),
    ("0 0 29 2 *", "2096-03-01T00:00:00", "2104-02-29T00:00:00"),
    # Both day fields restricted: either may match (Friday 5 January comes before the 13th).
    ("0 0 13 * FRI", "2024-01-01T00:00:00", "2024-01-05T00:00:00"),
    ("0 0 13 * FRI", "2024-01-05T00:00:00", "2024-01-12T00:00:00"),
    ("0 0 13 * FRI", "2024-01-12T00:00:00", "2024-01-13T00:00:00"),
    # Only the day of month restricted.
    ("0 0 13 * *", "2024-01-01T00:00:00", "2024-01-13T00:00:00"),
    # A weekday field starting with '*' counts as unrestricted: both must match. The 1st falls on a
    # Sunday, Wednesday or Saturday first on Wednesday 1 May (Feb: Thu, Mar: Fri, Apr: Mon).
    ("0 0 1 * */3", "2024-01-02T00:00:00", "2024-05-01T00:00:00"),
    ("@daily", "2024-01-01T12:00:00", "2024-01-02T00:00:00"),
    ("@hourly", "2024-01-01T12:00:00", "2024-01-01T13:00:00"),
    ("@weekly", "2024-01-01T12:00:00", "2024-01-07T00:00:00"),
    ("@monthly", "2024-01-15T12:00:00", "2024-02-01T00:00:00"),
    ("@yearly", "2024-01-15T12:00:00", "2025-01-01T00:00:00"),
    ("  */30   *  * *   * ", "2024-01-01T00:10:00", "2024-01-01T00:30:00"),
]


@pytest.mark.parametrize(("expression", "after", "expected"), KNOWN)
def test_next_firing_time(expression: str, after: str, expected: str) -> None:
    assert next_after(expression, at(after)) == at(expected)


def test_the_answer_fires_and_nothing_fires_in_between() -> None:
    schedule = parse("*/7 9-17 * * MON-FRI")
    moment = at("2024-01-05T17:56:00")  # the last firing of Friday
    found = next_after(schedule, moment)
    assert found == at("2024-01-08T09:00:00")
    assert schedule.matches(found)
    minute = moment + timedelta(minutes=1)
    while minute < found:
        assert not schedule.matches(minute)
        minute += timedelta(minutes=1)


def test_times_in_other_zones_are_read_in_utc() -> None:
    paris_winter = timezone(timedelta(hours=1))
    after = datetime(2024, 1, 1, 0, 30, tzinfo=paris_winter)  # 23:30 UTC on 31 December
    assert next_after("0 0 * * *", after) == at("2024-01-01T00:00:00")
    assert next_after("0 0 * * *", after).tzinfo == UTC


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_after("* * * * *", datetime(2024, 1, 1))


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("* * * *", "must have 5 fields"),
        ("* * * * * *", "must have 5 fields"),
        ("@reboot", "must have 5 fields"),
        ("60 * * * *", "minute '60': 60 is outside 0-59"),
        ("* 24 * * *", "hour '24': 24 is outside 0-23"),
        ("* * 0 * *", "day-of-month '0': 0 is outside 1-31"),
        ("* * * 13 *", "month '13': 13 is outside 1-12"),
        ("* * * * 8", "day-of-week '8': 8 is outside 0-7"),
        ("*/0 * * * *", "step '0' must be a whole number of at least 1"),
        ("*/x * * * *", "step 'x'"),
        ("5-1 * * * *", "range '5-1' runs backwards"),
        ("1,,2 * * * *", "empty list item"),
        ("* * * FOO *", "'FOO' is not a number 1-12 or a name like JAN"),
        ("* * * * MON-FOO", "'FOO' is not a number 0-7 or a name like SUN"),
        ("-5 * * * *", "minute '-5'"),
        ("0 0 30 2 *", "never fires"),
        ("0 0 31 4,6,9,11 *", "never fires"),
    ],
)
def test_bad_expressions_are_named(expression: str, message: str) -> None:
    with pytest.raises(CronError, match="cron expression") as caught:
        parse(expression)
    assert message in str(caught.value)


def test_thirty_first_of_a_long_month_with_a_short_one_is_fine() -> None:
    assert next_after("0 0 31 4,5 *", at("2024-01-01T00:00:00")) == at("2024-05-31T00:00:00")
