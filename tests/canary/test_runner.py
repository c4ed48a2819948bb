"""Running suites: pass rates per suite and per test, alerts, failed calls, timeouts and the concurrency bound."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from keel.canary.runner import Answer, AnswerOrError, CallFailed, SuiteRun, TestSummary, run_suite
from keel.canary.suite import Target, parse_suite
from tests.canary.judge_server import JudgeServer

SUITE = """\
name: support
target: {route: support-bot}
repeat: 3
alert_below: 0.9
tests:
  - id: refund
    prompt: What is the refund window?
    params: {temperature: 0}
    assert: [{contains: "30 days"}]
  - id: coin
    prompt: Heads or tails?
    assert: [{contains: heads}]
  - id: polite
    messages: [{role: system, content: Be kind}, {role: user, content: Hello}]
    assert: [{not_contains: go away}, {judge: {route: grader, criteria: is polite}}]
"""


class Model:
    """A deterministic stand-in for a route: fixed answers, and a coin that alternates heads and tails."""

    def __init__(self) -> None:
        self.calls: list[tuple[Target, list[dict[str, Any]], dict[str, Any]]] = []
        self._coin = itertools.cycle(["heads", "tails"])

    def answer(self, messages: list[dict[str, Any]]) -> str:
        question = messages[-1]["content"]
        if "refund" in question:
            return "You have 30 days."
        if "Heads" in question:
            return next(self._coin)
        return "Hello, happy to help."

    async def call(self, target: Target, messages: list[dict[str, Any]], params: dict[str, Any]) -> AnswerOrError:
        self.calls.append((target, messages, params))
        return Answer(self.answer(messages), deployment="mini")


def clock() -> itertools.count[float]:
    return itertools.count(1_700_000_000.0, 10.0)


async def test_pass_rates_per_suite_and_per_test_and_the_alert(judge: JudgeServer) -> None:
    model = Model()
    times = clock()
    run = await run_suite(
        parse_suite(SUITE), model.call, chat=judge.chat, embed=None, now=lambda: next(times), trigger="schedule"
    )
    # 3 tests x 3 repeats; the coin comes up heads twice out of three calls, whatever the order.
    assert len(run.trials) == 9 and len(model.calls) == 9
    assert run.tests == (TestSummary("refund", 3, 3), TestSummary("coin", 3, 2), TestSummary("polite", 3, 3))
    assert run.passed == 8
    assert run.pass_rate == pytest.approx(8 / 9)
    assert run.alert  # 88.9% < 90%
    assert (run.suite, run.trigger, run.target, run.suite_digest) == (
        "support",
        "schedule",
        Target(route="support-bot"),
        parse_suite(SUITE).digest,
    )
    assert (run.started_at, run.finished_at) == (1_700_000_000.0, 1_700_000_010.0)
    assert run.run_id.startswith("canary_")
    assert run.describe() == (
        "canary suite support (route support-bot): 8/9 passed (88.9%, alert below 90%); failing: coin 2/3"
    )
    # Trials come in suite order, then repeat order, whatever order they finished in.
    assert [(t.test_id, t.repeat) for t in run.trials] == [
        (i, r) for i in ("refund", "coin", "polite") for r in range(3)
    ]
    polite = run.trials[-1]
    assert polite.passed and polite.deployment == "mini" and polite.answer == "Hello, happy to help."
    assert [(o.kind, o.passed) for o in polite.outcomes] == [("not_contains", True), ("judge", True)]
    assert len(judge.requests) == 3  # one judge call per run of "polite"


async def test_the_call_gets_the_target_messages_and_params() -> None:
    model = Model()
    await run_suite(parse_suite(SUITE), model.call, chat=None, embed=None, now=lambda: 0.0)
    calls = {messages[-1]["content"]: (target, messages, params) for target, messages, params in model.calls}
    target, messages, params = calls["What is the refund window?"]
    assert target == Target(route="support-bot")
    assert messages == [{"role": "user", "content": "What is the refund window?"}]
    assert params == {"temperature": 0}
    assert calls["Hello"][1] == [{"role": "system", "content": "Be kind"}, {"role": "user", "content": "Hello"}]


async def test_no_alert_at_or_above_the_threshold() -> None:
    suite = parse_suite(SUITE.replace("alert_below: 0.9", "alert_below: 0.8"))
    run = await run_suite(suite, Model().call, chat=None, embed=None, now=lambda: 0.0)
    # Without a judge the "polite" test fails every time: 5/9 = 55.6%.
    assert run.tests[2] == TestSummary("polite", 3, 0)
    assert "a judge assertion needs a chat function" in run.trials[-1].outcomes[1].detail
    assert run.alert

    passing = parse_suite(SUITE.replace("alert_below: 0.9", "alert_below: 0.5"))
    run = await run_suite(passing, Model().call, chat=None, embed=None, now=lambda: 0.0)
    assert run.pass_rate == pytest.approx(5 / 9)
    assert not run.alert


async def test_everything_passing_never_alerts(judge: JudgeServer) -> None:
    suite = parse_suite(
        SUITE.replace("alert_below: 0.9", "alert_below: 1.0").replace(
            "assert: [{contains: heads}]", "assert: [{regex: '^(heads|tails)$'}]"
        )
    )
    run = await run_suite(suite, Model().call, chat=judge.chat, embed=None, now=lambda: 0.0)
    assert (run.pass_rate, run.alert) == (1.0, False)
    assert run.describe() == "canary suite support (route support-bot): 9/9 passed (100.0%, alert below 100%)"


ONE_TEST = """\
name: one
target: {deployment: candidate}
repeat: 2
timeout_s: 0.05
tests:
  - id: only
    prompt: Hi
    assert: [{contains: hi}]
"""


async def test_failed_and_raising_calls_are_failed_trials_with_their_error() -> None:
    suite = parse_suite(ONE_TEST)

    async def refused(target: Target, messages: list[dict[str, Any]], params: dict[str, Any]) -> AnswerOrError:
        return CallFailed("RateLimited: 429 from upstream")

    run = await run_suite(suite, refused, chat=None, embed=None, now=lambda: 0.0)
    assert [(t.passed, t.error, t.answer, t.outcomes) for t in run.trials] == [
        (False, "RateLimited: 429 from upstream", None, ())
    ] * 2
    assert (run.pass_rate, run.alert) == (0.0, True)

    async def broken(target: Target, messages: list[dict[str, Any]], params: dict[str, Any]) -> AnswerOrError:
        raise ConnectionResetError("peer went away")

    run = await run_suite(suite, broken, chat=None, embed=None, now=lambda: 0.0)
    assert [t.error for t in run.trials] == ["ConnectionResetError: peer went away"] * 2


async def test_a_call_that_never_answers_times_out() -> None:
    never = asyncio.Event()

    async def hangs(target: Target, messages: list[dict[str, Any]], params: dict[str, Any]) -> AnswerOrError:
        await never.wait()
        return Answer("hi")

    run = await run_suite(parse_suite(ONE_TEST), hangs, chat=None, embed=None, now=lambda: 0.0)
    assert [(t.passed, t.error) for t in run.trials] == [(False, "no answer within 0.05 s")] * 2


async def test_a_judge_that_never_answers_times_out_the_trial_but_keeps_the_answer() -> None:
    never = asyncio.Event()

    async def stuck_judge(route: str, messages: list[dict[str, Any]]) -> str:
        await never.wait()
        return '{"score": 5}'

    async def answers(target: Target, messages: list[dict[str, Any]], params: dict[str, Any]) -> AnswerOrError:
        return Answer("hi there")

    suite = parse_suite(ONE_TEST.replace("[{contains: hi}]", "[{contains: hi}, {judge: {route: j, criteria: kind}}]"))
    run = await run_suite(suite, answers, chat=stuck_judge, embed=None, now=lambda: 0.0)
    trial = run.trials[0]
    assert (trial.passed, trial.answer) == (False, "hi there")
    assert trial.error == "assertions did not finish within the 0.05 s timeout"
    assert [(o.kind, o.passed) for o in trial.outcomes] == [("contains", True)]


async def test_latency_is_the_call_time_on_the_given_clock() -> None:
    ticks = [0.0]

    async def slow(target: Target, messages: list[dict[str, Any]], params: dict[str, Any]) -> AnswerOrError:
        ticks[0] += 0.25
        return Answer("oh hi")

    run = await run_suite(
        parse_suite(ONE_TEST), slow, chat=None, embed=None, now=lambda: 0.0, monotonic=lambda: ticks[0], concurrency=1
    )
    assert [(t.passed, t.latency_ms) for t in run.trials] == [(True, 250.0), (True, 250.0)]


async def test_calls_in_flight_never_exceed_the_bound() -> None:
    suite = parse_suite(ONE_TEST.replace("repeat: 2", "repeat: 7"))
    in_flight = 0
    peak = 0

    async def counted(target: Target, messages: list[dict[str, Any]], params: dict[str, Any]) -> AnswerOrError:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        for _ in range(5):
            await asyncio.sleep(0)  # let every other trial that may start, start
        in_flight -= 1
        return Answer("hi")

    await run_suite(suite, counted, chat=None, embed=None, now=lambda: 0.0, concurrency=3)
    assert peak == 3
    peak = 0
    await run_suite(suite, counted, chat=None, embed=None, now=lambda: 0.0, concurrency=10)
    assert peak == 7
    with pytest.raises(ValueError, match="concurrency"):
        await run_suite(suite, counted, chat=None, embed=None, now=lambda: 0.0, concurrency=0)


# Through a real HTTP upstream, as the gateway's call would go.

ANSWERS = web.AppKey("answers", dict[str, str])


async def _chat(request: web.Request) -> web.Response:
    body = await request.json()
    if body.get("temperature", 1) > 1:
        return web.json_response({"error": {"message": "too hot"}}, status=400)
    answer = request.app[ANSWERS].get(body["messages"][-1]["content"], "I don't know.")
    return web.json_response(
        {"model": body["model"], "choices": [{"message": {"role": "assistant", "content": answer}}]}
    )


@pytest.fixture
async def upstream() -> AsyncIterator[str]:
    app = web.Application()
    app[ANSWERS] = {"What is 2 + 2?": '{"result": 4}', "Capital of France?": "Paris."}
    app.router.add_post("/v1/chat/completions", _chat)
    server = TestServer(app)
    await server.start_server()
    try:
        yield str(server.make_url("/v1/chat/completions"))
    finally:
        await server.close()


HTTP_SUITE = """\
name: http
target: {route: maths}
tests:
  - id: sum
    prompt: What is 2 + 2?
    assert: [{json_schema: {type: object, required: [result]}}, {number: {json_path: $.result, equals: 4}}]
  - id: capital
    prompt: Capital of France?
    assert: [{similar_to: "Paris", min: 0.9}]
  - id: hot
    prompt: Capital of France?
    params: {temperature: 1.5}
    assert: [{contains: Paris}]
"""


async def test_a_suite_against_an_http_upstream(upstream: str) -> None:
    async with aiohttp.ClientSession() as session:

        async def call(target: Target, messages: list[dict[str, Any]], params: dict[str, Any]) -> AnswerOrError:
            body = {"model": target.name, "messages": messages, **params}
            async with session.post(upstream, json=body) as response:
                data = await response.json()
                if response.status != 200:
                    return CallFailed(f"HTTP {response.status}: {data['error']['message']}")
            return Answer(data["choices"][0]["message"]["content"], deployment=data["model"])

        run: SuiteRun = await run_suite(parse_suite(HTTP_SUITE), call, chat=None, embed=None, now=lambda: 0.0)
    assert [(t.test_id, t.passed, t.error) for t in run.trials] == [
        ("sum", True, None),
        ("capital", True, None),
        ("hot", False, "HTTP 400: too hot"),
    ]
    assert run.trials[0].outcomes[1].detail == "$.result is 4, expected 4 ± 0"
    assert run.trials[0].deployment == "maths"
    assert run.pass_rate == pytest.approx(2 / 3)
