"""With a healthy deployment in the route, faults before the first byte never reach the client.

Each route puts a faulty deployment first and a healthy one second (priority order), so every request
meets the fault and has to fail over. Streams are held until their first chunk, so a stream whose
upstream fails before it is rerouted as invisibly as a request that is not a stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from tests.resilience.conftest import Gateway, StartGateway
from tests.resilience.drive import HEALTHY, HOLD_CLOSED, Outcome, ask, batch, describe, upstream

# Short deadlines find the faults that show only as silence quickly. The other faulty upstreams keep
# long ones, so that a slow machine cannot turn their own error into a timeout.
# Whole answers are bounded by total_s, streams' first chunk by first_token_s: cut both short.
SHORT = {"first_token_s": 0.4, "idle_s": 0.4, "total_s": 0.4}
SILENT = ("slow_first_token", "stall_before_first_chunk")

# fault → (scripted behaviour, error class of the failed attempt in the request log)
FAULTS: dict[str, tuple[str, str]] = {
    "server_error": ("fault=server_error:1", "UpstreamUnavailable"),
    "rate_limit": ("fault=rate_limit:1:1", "RateLimited"),
    "connection_reset": ("fault=connection_reset:1", "UpstreamConnectionError"),
    "malformed_json": ("fault=malformed_json:1", "UpstreamBadResponse"),
    "slow_first_token": ("ttft=5000,tps=1000,tokens=12", "UpstreamTimeout"),
    "stall_before_first_chunk": ("fault=stall:1:0", "UpstreamTimeout"),
    "cut_before_first_chunk": ("fault=stream_cut:1:0", "UpstreamConnectionError"),
}
MIXED = (
    "fault=server_error:0.15,fault=rate_limit:0.1:1,fault=connection_reset:0.1,fault=malformed_json:0.05,"
    "fault=stall:0.05:0,fault=stream_cut:0.05:0"
)
MIXED_ERRORS = {
    "UpstreamUnavailable",
    "RateLimited",
    "UpstreamConnectionError",
    "UpstreamBadResponse",
    "UpstreamTimeout",
}


def _after_healthy(script: str) -> str:
    """The fault on top of the healthy behaviour, unless it sets its own latency."""
    return script if script.startswith("ttft=") else f"{HEALTHY},{script}"


DEPLOYMENTS: dict[str, Any] = {
    "healthy": upstream(HEALTHY),
    "mixed": upstream(f"{HEALTHY},{MIXED}", circuit=HOLD_CLOSED, **SHORT),
    "refuses": upstream(f"{HEALTHY},fault=content_filter:1"),
    "short-context": upstream(f"{HEALTHY},ctx=3"),
    # Its whole answer takes 1.5 s, past first_token_s; idle_s is longer.
    "slow-whole": upstream("ttft=1500,tps=1000,tokens=12", first_token_s=0.3, idle_s=5.0, circuit=HOLD_CLOSED),
    **{
        f"bad-{fault}": upstream(_after_healthy(script), circuit=HOLD_CLOSED, **(SHORT if fault in SILENT else {}))
        for fault, (script, _) in FAULTS.items()
    },
}
ROUTES: dict[str, Any] = {
    "over-mixed": {"deployments": ["mixed", "healthy"], "retries": {"budget_ratio": 1}},
    "over-slow-whole": {"deployments": ["slow-whole", "healthy"]},
    "guarded": {"deployments": ["refuses"], "content_policy_fallback": "healthy"},
    "long-prompt": {"deployments": ["short-context"], "context_window_fallback": "healthy"},
    # Every request fails over once: a budget ratio of 1 pays for that.
    **{
        f"over-{fault}": {"deployments": [f"bad-{fault}", "healthy"], "retries": {"budget_ratio": 1}}
        for fault in FAULTS
    },
}


@pytest.fixture(scope="module")
def gateway(start_gateway: StartGateway) -> Iterator[Gateway]:
    with start_gateway({"routes": ROUTES, "deployments": DEPLOYMENTS}) as gateway:
        yield gateway


async def run(gateway: Gateway, route: str, n: int) -> list[Outcome]:
    """``n`` requests that are not streams and ``n`` streams, both at once."""
    async with gateway.async_client() as client:
        whole, streams = await asyncio.gather(
            batch(client, route, n, stream=False), batch(client, route, n, stream=True)
        )
    return whole + streams


@pytest.mark.parametrize("fault", FAULTS)
async def test_a_fault_before_the_first_byte_fails_over_invisibly(gateway: Gateway, fault: str) -> None:
    outcomes = await run(gateway, f"over-{fault}", 20)
    assert all(o.error is None and o.finished for o in outcomes), describe(outcomes)
    assert {o.deployment for o in outcomes} == {"healthy"}
    for record in gateway.records(o.request_id for o in outcomes):
        failed, answered = record["attempts"]
        assert (failed["deployment"], failed["kind"], failed["error_class"]) == (
            f"bad-{fault}",
            "primary",
            FAULTS[fault][1],
        )
        assert failed["status"] >= 429
        assert (answered["deployment"], answered["kind"], answered["status"]) == ("healthy", "failover", 200)
        assert answered["error_class"] is None
        assert (record["status"], record["deployment"], record["error_class"]) == (200, "healthy", None)


async def test_half_the_requests_failing_in_mixed_ways_costs_no_client_errors(gateway: Gateway) -> None:
    outcomes = await run(gateway, "over-mixed", 40)
    assert all(o.error is None and o.finished for o in outcomes), describe(outcomes)
    records = gateway.records(o.request_id for o in outcomes)
    failed_first = 0
    seen: set[str] = set()
    for outcome, record in zip(outcomes, records, strict=True):
        first, *rest = record["attempts"]
        assert first["deployment"] == "mixed"
        if first["error_class"] is None:
            assert not rest and record["deployment"] == outcome.deployment == "mixed"
            continue
        failed_first += 1
        seen.add(first["error_class"])
        # The healthy deployment answered, after nothing but failures of the faulty one.
        assert rest[-1]["deployment"] == record["deployment"] == outcome.deployment == "healthy"
        assert rest[-1]["status"] == 200
        assert all(a["error_class"] is not None for a in record["attempts"][:-1])
    assert seen <= MIXED_ERRORS
    # Half of 80 requests meet a fault; fewer than 10 would be a broken simulator, not bad luck.
    assert failed_first >= 10 and len(seen) >= 2


@pytest.mark.parametrize(
    ("route", "first", "error_class"),
    [
        ("guarded", "refuses", "ContentPolicyViolation"),
        ("long-prompt", "short-context", "ContextWindowExceeded"),
    ],
)
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_refusal_or_a_too_long_prompt_goes_to_the_fallback_for_it(
    gateway: Gateway, route: str, first: str, error_class: str, stream: bool
) -> None:
    with gateway.client() as client:
        outcome = ask(client, route, stream=stream)
    assert outcome.error is None and outcome.finished and outcome.deployment == "healthy"
    attempts = [(a["deployment"], a["kind"], a["error_class"]) for a in gateway.record(outcome.request_id)["attempts"]]
    assert attempts == [(first, "primary", error_class), ("healthy", "fallback", None)]


def test_a_whole_answer_is_bounded_by_total_s_not_first_token_s(gateway: Gateway) -> None:
    # A whole answer may legitimately take longer than a stream's first token: it is waited for.
    with gateway.client() as client:
        outcome = ask(client, "over-slow-whole", stream=False)
    assert outcome.error is None
    assert outcome.deployment == "slow-whole"
