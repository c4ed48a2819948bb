"""A failing upstream stops getting traffic (circuit breaker), and cannot multiply it (retry budget)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.resilience.conftest import Gateway, StartGateway
from tests.resilience.drive import HEALTHY, HOLD_CLOSED, ask, batch, upstream

COOLDOWN_S = 3.0
STREAK = 3
BUDGET = {"ratio": 0.1, "min_per_s": 0.1, "max_attempts": 5}
BURST_S = 10.0
"""The retry budget holds at most this many seconds of its per-second allowance (at least 1 token)."""

DEPLOYMENTS: dict[str, Any] = {
    "healthy": upstream(HEALTHY),
    # Only the streak opens this circuit (the error-rate rule needs more calls than the test makes).
    "dead": upstream(
        "fault=server_error:1",
        circuit={"consecutive_failures": STREAK, "min_requests": 1000, "cooldown_s": COOLDOWN_S},
    ),
    "doomed": upstream("fault=server_error:1", circuit=HOLD_CLOSED),
    "failing": upstream("fault=server_error:1", circuit=HOLD_CLOSED),
    # One failure opens it for longer than the test runs.
    "tripped": upstream("fault=server_error:1", circuit={"consecutive_failures": 1, "cooldown_s": 600}),
}
ROUTES: dict[str, Any] = {
    "breaker": {"deployments": ["dead", "healthy"]},
    "trip": {"deployments": ["tripped"]},
    # A budget of exactly one extra attempt (the bucket holds at least one token, and gains none).
    "one-extra": {
        "deployments": ["failing", "tripped", "healthy"],
        "retries": {"budget_ratio": 0, "budget_min_per_s": 0},
    },
    "budget": {
        "deployments": ["doomed"],
        "retries": {
            "max_attempts": BUDGET["max_attempts"],
            "backoff_base_s": 0.01,
            "backoff_max_s": 0.02,
            "budget_ratio": BUDGET["ratio"],
            "budget_min_per_s": BUDGET["min_per_s"],
        },
    },
}


@pytest.fixture(scope="module")
def gateway(start_gateway: StartGateway) -> Iterator[Gateway]:
    with start_gateway({"routes": ROUTES, "deployments": DEPLOYMENTS}) as gateway:
        yield gateway


def tried_dead(gateway: Gateway, request_id: str | None) -> list[str]:
    """The kinds of the attempts this request made on the dead deployment."""
    return [a["kind"] for a in gateway.record(request_id)["attempts"] if a["deployment"] == "dead"]


def test_an_open_circuit_keeps_requests_off_a_dead_deployment_until_a_probe(gateway: Gateway) -> None:
    with gateway.client() as client:
        # Closed: every request tries the dead deployment first, then fails over.
        for _ in range(STREAK):
            opening_sent = time.monotonic()
            outcome = ask(client, "breaker", stream=False)
            assert outcome.error is None and outcome.deployment == "healthy"
            assert tried_dead(gateway, outcome.request_id) == ["primary"]

        # Open: requests go straight to the healthy deployment. Only those surely served inside the
        # cooldown count; on a very slow machine a later one may already be the probe.
        inside = 0
        for stream in (False, True, False, True, False):
            outcome = ask(client, "breaker", stream=stream)
            assert outcome.error is None and outcome.finished and outcome.deployment == "healthy"
            if time.monotonic() < opening_sent + COOLDOWN_S:
                inside += 1
                assert tried_dead(gateway, outcome.request_id) == []
        assert inside > 0, "the machine is too slow to serve one request within the cooldown"

        # Cooled down: the next request probes the dead deployment; it fails, and the circuit opens again.
        # (Counted from now: had one of the requests above been a probe already, its cooldown is over too.)
        time.sleep(COOLDOWN_S + 0.2)
        probe_sent = time.monotonic()
        outcome = ask(client, "breaker", stream=False)
        assert outcome.error is None and outcome.deployment == "healthy"
        assert tried_dead(gateway, outcome.request_id) == ["primary"]
        outcome = ask(client, "breaker", stream=True)
        assert outcome.error is None and outcome.deployment == "healthy"
        if time.monotonic() < probe_sent + COOLDOWN_S:
            assert tried_dead(gateway, outcome.request_id) == []


async def test_the_retry_budget_bounds_attempts_on_a_failing_route(gateway: Gateway) -> None:
    requests = 30
    started = time.monotonic()
    async with gateway.async_client() as client:
        outcomes = await batch(client, "budget", requests, stream=False, concurrency=4)
    elapsed = time.monotonic() - started
    assert all(isinstance(o.error, openai.InternalServerError) and o.status == 503 for o in outcomes)
    attempts = sum(len(r["attempts"]) for r in gateway.records(o.request_id for o in outcomes))
    # The bucket starts full (its capacity), gains `ratio` per request and `min_per_s` per second;
    # each extra attempt costs one token. The elapsed time measured here is an upper bound.
    capacity = max(1.0, BUDGET["min_per_s"] * BURST_S)
    extra_bound = capacity + BUDGET["ratio"] * requests + BUDGET["min_per_s"] * elapsed
    assert requests < attempts <= requests + int(extra_bound)
    assert attempts < requests * BUDGET["max_attempts"]


def test_skipping_an_open_circuit_costs_no_retry_budget(gateway: Gateway) -> None:
    with gateway.client() as client:
        tripping = ask(client, "trip", stream=False)
        assert isinstance(tripping.error, openai.InternalServerError)  # and the circuit of "tripped" is open
        outcome = ask(client, "one-extra", stream=False)
    # "failing" fails, "tripped" is skipped (no attempt), "healthy" is the one extra attempt.
    assert outcome.error is None, outcome.error
    assert outcome.deployment == "healthy"
