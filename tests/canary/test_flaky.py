"""Per-test history across executions: pass rates over a window and flaky tests named."""

from __future__ import annotations

import pytest

from keel.canary.flaky import history_report
from keel.canary.runner import SuiteRun, Trial
from keel.canary.suite import Target


def execution(at: float, results: dict[str, str], suite: str = "support") -> SuiteRun:
    """A run whose tests passed (P) or failed (F) in the order given, one letter per repeat."""
    trials = tuple(
        Trial(test_id, repeat, letter == "P", 10.0)
        for test_id, letters in results.items()
        for repeat, letter in enumerate(letters)
    )
    return SuiteRun(f"run-{at:g}", suite, Target(route="bot"), "d1", "schedule", at, at + 1, 1.0, trials)


def test_steady_tests_are_not_flaky() -> None:
    runs = [execution(t, {"good": "PPP", "broken": "FFF"}) for t in (1, 2, 3)]
    good, broken = history_report(runs)
    assert (good.test_id, good.verdicts, good.pass_rate, good.flaky) == ("good", ("pass",) * 3, 1.0, False)
    assert (broken.test_id, broken.verdicts, broken.pass_rate, broken.flaky) == ("broken", ("fail",) * 3, 0.0, False)
    assert (good.executions, good.trials, good.passed, good.flips, good.mixed) == (3, 9, 9, 0, 0)


def test_passing_and_failing_in_one_execution_is_flaky() -> None:
    runs = [execution(1, {"a": "PPP"}), execution(2, {"a": "PFP"}), execution(3, {"a": "PPP"})]
    (a,) = history_report(runs)
    assert a.verdicts == ("pass", "mixed", "pass")
    assert (a.mixed, a.flips, a.flaky) == (1, 0, True)
    assert a.pass_rate == pytest.approx(8 / 9)


def test_alternating_across_executions_is_flaky() -> None:
    (a,) = history_report([execution(1, {"a": "P"}), execution(2, {"a": "F"}), execution(3, {"a": "P"})])
    assert (a.verdicts, a.flips, a.flaky) == (("pass", "fail", "pass"), 2, True)


def test_one_change_is_a_regression_not_flakiness() -> None:
    runs = [execution(t, {"a": "P" if t < 4 else "F"}) for t in range(1, 7)]
    (a,) = history_report(runs)
    assert (a.flips, a.flaky, a.last) == (1, False, "fail")
    assert a.pass_rate == 0.5
    # Asking for three changes before calling it flaky; a pass-fail-pass counts two.
    (b,) = history_report([execution(1, {"a": "P"}), execution(2, {"a": "F"}), execution(3, {"a": "P"})], min_flips=3)
    assert not b.flaky


def test_mixed_executions_do_not_count_as_flips() -> None:
    runs = [execution(1, {"a": "PP"}), execution(2, {"a": "PF"}), execution(3, {"a": "PP"})]
    (a,) = history_report(runs)
    assert a.flips == 0


def test_only_the_last_executions_count_and_order_does_not_matter() -> None:
    # Five old failures, then five passes; the window of five sees only passes.
    runs = [execution(t, {"a": "F" if t <= 5 else "P"}) for t in range(1, 11)]
    (a,) = history_report(list(reversed(runs)), window=5)
    assert (a.executions, a.pass_rate, a.flaky) == (5, 1.0, False)
    (whole,) = history_report(runs, window=10)
    assert (whole.executions, whole.pass_rate, whole.flips) == (10, 0.5, 1)


def test_tests_come_in_the_newest_order_then_retired_ones() -> None:
    runs = [
        execution(1, {"old": "P", "b": "P"}),
        execution(2, {"b": "F", "gone": "P"}),
        execution(3, {"new": "P", "b": "P"}),
    ]
    report = history_report(runs)
    assert [h.test_id for h in report] == ["new", "b", "gone", "old"]
    assert [h.executions for h in report] == [1, 3, 1, 1]
    b = report[1]
    assert (b.verdicts, b.flaky) == (("pass", "fail", "pass"), True)


def test_history_is_per_suite() -> None:
    with pytest.raises(ValueError, match="several: a, b"):
        history_report([execution(1, {"x": "P"}, suite="a"), execution(2, {"x": "P"}, suite="b")])
    assert history_report([]) == []
    with pytest.raises(ValueError, match="at least 1"):
        history_report([], window=0)
