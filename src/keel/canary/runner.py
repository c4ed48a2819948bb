"""One execution of a canary suite: every test asked ``repeat`` times, each answer checked.

How a question reaches a model is injected as ``call``: the gateway passes one that sends the request
through its own pipeline (for a route) or straight to one deployment (for a candidate), so the runner
knows nothing of routing. Calls run concurrently up to a bound; each test run (a *trial*) has the
suite's timeout for its call and its assertions together. A failed or timed-out call is a failed
trial with its error recorded, never a crashed suite.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from keel.canary.assertions import AssertionOutcome, ChatFn, EmbedFn, check, describe_error
from keel.canary.suite import CanaryTest, Suite, Target

DEFAULT_CONCURRENCY = 4


@dataclass(frozen=True, slots=True)
class Answer:
    text: str
    deployment: str | None = None
    """The deployment that answered, when the caller knows it (a route may fail over)."""


@dataclass(frozen=True, slots=True)
class CallFailed:
    error: str
    """What went wrong, e.g. ``"UpstreamTimeout: no answer in 30 s"``."""


AnswerOrError = Answer | CallFailed
CallFn = Callable[[Target, list[dict[str, Any]], dict[str, Any]], Awaitable[AnswerOrError]]
"""``call(target, messages, params)``: ask ``target`` one chat question, non-streaming."""


@dataclass(frozen=True, slots=True)
class Trial:
    """One run of one test: its answer, how long the call took and how each assertion went."""

    test_id: str
    repeat: int
    """0-based index among the test's runs in this execution."""
    passed: bool
    latency_ms: float
    error: str | None = None
    answer: str | None = None
    deployment: str | None = None
    outcomes: tuple[AssertionOutcome, ...] = ()


@dataclass(frozen=True, slots=True)
class TestSummary:
    __test__: ClassVar[bool] = False  # not a pytest test class

    test_id: str
    trials: int
    passed: int

    @property
    def pass_rate(self) -> float:
        return self.passed / self.trials if self.trials else 0.0


@dataclass(frozen=True, slots=True)
class SuiteRun:
    run_id: str
    suite: str
    target: Target
    suite_digest: str
    trigger: str
    """Why it ran: ``"schedule"``, ``"manual"``, ``"cli"``…, as the caller says."""
    started_at: float
    finished_at: float
    alert_below: float
    trials: tuple[Trial, ...]

    @property
    def passed(self) -> int:
        return sum(trial.passed for trial in self.trials)

    @property
    def pass_rate(self) -> float:
        """Passed trials over all trials (every test weighs the same, as each runs ``repeat`` times)."""
        return self.passed / len(self.trials) if self.trials else 0.0

    @property
    def alert(self) -> bool:
        return self.pass_rate < self.alert_below

    @property
    def tests(self) -> tuple[TestSummary, ...]:
        """Per test, in suite order."""
        tally: dict[str, list[int]] = {}
        for trial in self.trials:
            counts = tally.setdefault(trial.test_id, [0, 0])
            counts[0] += 1
            counts[1] += trial.passed
        return tuple(TestSummary(test_id, trials, passed) for test_id, (trials, passed) in tally.items())

    def describe(self) -> str:
        """One line for alerts and the CLI, naming the tests that did not pass every time."""
        failing = ", ".join(f"{t.test_id} {t.passed}/{t.trials}" for t in self.tests if t.passed < t.trials)
        text = (
            f"canary suite {self.suite} ({self.target}): {self.passed}/{len(self.trials)} passed "
            f"({self.pass_rate:.1%}, alert below {self.alert_below:.0%})"
        )
        return f"{text}; failing: {failing}" if failing else text


async def run_suite(
    suite: Suite,
    call: CallFn,
    *,
    chat: ChatFn | None,
    embed: EmbedFn | None,
    now: Callable[[], float],
    monotonic: Callable[[], float] = time.perf_counter,
    concurrency: int = DEFAULT_CONCURRENCY,
    trigger: str = "manual",
) -> SuiteRun:
    """Run every test of ``suite`` ``suite.repeat`` times; ``now`` gives the wall-clock time in epoch seconds."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    started_at = now()
    gate = asyncio.Semaphore(concurrency)

    async def bounded(test: CanaryTest, repeat: int) -> Trial:
        async with gate:
            return await _trial(suite, test, repeat, call, chat, embed, monotonic)

    trials = await asyncio.gather(*(bounded(test, r) for test in suite.tests for r in range(suite.repeat)))
    return SuiteRun(
        run_id=f"canary_{secrets.token_hex(8)}",
        suite=suite.name,
        target=suite.target,
        suite_digest=suite.digest,
        trigger=trigger,
        started_at=started_at,
        finished_at=now(),
        alert_below=suite.alert_below,
        trials=tuple(trials),
    )


async def _trial(
    suite: Suite,
    test: CanaryTest,
    repeat: int,
    call: CallFn,
    chat: ChatFn | None,
    embed: EmbedFn | None,
    monotonic: Callable[[], float],
) -> Trial:
    conversation = test.conversation
    deadline = asyncio.get_running_loop().time() + suite.timeout_s
    started = monotonic()
    reply: AnswerOrError
    try:
        async with asyncio.timeout_at(deadline) as scope:
            reply = await call(suite.target, conversation, dict(test.params))
    except TimeoutError as error:
        reply = CallFailed(f"no answer within {suite.timeout_s:g} s" if scope.expired() else describe_error(error))
    except Exception as error:  # the call is the gateway's code: any failure fails this trial only
        reply = CallFailed(describe_error(error))
    latency_ms = (monotonic() - started) * 1000
    if isinstance(reply, CallFailed):
        return Trial(test.id, repeat, False, latency_ms, reply.error)
    outcomes: list[AssertionOutcome] = []
    error_text = None
    try:
        async with asyncio.timeout_at(deadline):
            for assertion in test.checks:
                outcomes.append(await check(assertion, reply.text, chat=chat, embed=embed, conversation=conversation))
    except TimeoutError:
        error_text = f"assertions did not finish within the {suite.timeout_s:g} s timeout"
    passed = error_text is None and all(outcome.passed for outcome in outcomes)
    return Trial(test.id, repeat, passed, latency_ms, error_text, reply.text, reply.deployment, tuple(outcomes))
