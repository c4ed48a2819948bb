"""Per-test history across a suite's recent executions: pass rates, and which tests are flaky.

A flaky test erodes trust in every red canary, so it is named rather than averaged away. A test is
flaky when, within the window, some execution had both passing and failing runs of it (possible when
the suite repeats each test), or its outcome went back and forth between executions: pass, fail, pass
again (``min_flips`` changes). A single change is not flakiness; it is a regression, or a fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import ClassVar, Literal

from keel.canary.runner import SuiteRun, Trial

Verdict = Literal["pass", "fail", "mixed"]

DEFAULT_WINDOW = 20
DEFAULT_MIN_FLIPS = 2


@dataclass(frozen=True, slots=True)
class TestHistory:
    __test__: ClassVar[bool] = False  # not a pytest test class

    test_id: str
    verdicts: tuple[Verdict, ...]
    """One per execution in the window, oldest first: all runs passed, all failed, or some of each."""
    trials: int
    passed: int
    flips: int
    """Changes between pass and fail from one execution to the next, mixed executions left out."""
    flaky: bool

    @property
    def executions(self) -> int:
        return len(self.verdicts)

    @property
    def pass_rate(self) -> float:
        return self.passed / self.trials if self.trials else 0.0

    @property
    def mixed(self) -> int:
        """Executions in which the test both passed and failed."""
        return self.verdicts.count("mixed")

    @property
    def last(self) -> Verdict:
        return self.verdicts[-1]


def history_report(
    runs: Sequence[SuiteRun], *, window: int = DEFAULT_WINDOW, min_flips: int = DEFAULT_MIN_FLIPS
) -> list[TestHistory]:
    """Each test's history over its last ``window`` executions among ``runs`` (one suite's, any order).

    Tests come in the order of the newest execution, then tests no longer in it, most recent first.
    """
    if window < 1 or min_flips < 1:
        raise ValueError("window and min_flips must be at least 1")
    suites = {run.suite for run in runs}
    if len(suites) > 1:
        raise ValueError(f"history is per suite, and these runs belong to several: {', '.join(sorted(suites))}")
    per_test: dict[str, list[list[Trial]]] = {}
    for run in sorted(runs, key=lambda r: r.started_at, reverse=True):
        in_run: dict[str, list[Trial]] = {}
        for trial in run.trials:
            in_run.setdefault(trial.test_id, []).append(trial)
        for test_id, trials in in_run.items():
            executions = per_test.setdefault(test_id, [])
            if len(executions) < window:
                executions.append(trials)
    return [_history(test_id, newest_first[::-1], min_flips) for test_id, newest_first in per_test.items()]


def _history(test_id: str, executions: list[list[Trial]], min_flips: int) -> TestHistory:
    verdicts = tuple(_verdict(trials) for trials in executions)
    settled = [v for v in verdicts if v != "mixed"]
    flips = sum(before != after for before, after in pairwise(settled))
    return TestHistory(
        test_id=test_id,
        verdicts=verdicts,
        trials=sum(len(trials) for trials in executions),
        passed=sum(trial.passed for trials in executions for trial in trials),
        flips=flips,
        flaky="mixed" in verdicts or flips >= min_flips,
    )


def _verdict(trials: list[Trial]) -> Verdict:
    passed = sum(trial.passed for trial in trials)
    if passed == len(trials):
        return "pass"
    return "fail" if passed == 0 else "mixed"
