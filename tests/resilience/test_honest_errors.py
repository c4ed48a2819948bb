"""With no healthy deployment, the client gets an honest error, in time — and a stream that already
started ends with an error event, never with a clean end that would pass a cut answer off as whole."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.resilience.conftest import Gateway, StartGateway
from tests.resilience.drive import HEALTHY, HOLD_CLOSED, ask, ask_async, upstream

TOTAL_S = 4.0
SLACK_S = 10.0
"""Generous: a loaded CI machine may be slow, but a hang would take the SDK's full 60 s."""
SILENT = ("slow-first-token", "stall-before", "hang")
"""Faults that show only as silence: short deadlines find them quickly. The others keep long ones, so
that a slow machine cannot turn their own error into a timeout."""

# route → (scripted behaviour, SDK exception, HTTP status, error class in the request log)
DEAD: dict[str, tuple[str, type[openai.APIStatusError], int, str]] = {
    "server-error": ("fault=server_error:1", openai.InternalServerError, 503, "UpstreamUnavailable"),
    "overloaded": ("fault=overloaded:1", openai.InternalServerError, 503, "UpstreamUnavailable"),
    "rate-limit": ("fault=rate_limit:1:30", openai.RateLimitError, 429, "RateLimited"),
    "rate-limit-short": ("fault=rate_limit:1:0.2", openai.RateLimitError, 429, "RateLimited"),
    "connection-reset": ("fault=connection_reset:1", openai.InternalServerError, 502, "UpstreamConnectionError"),
    "malformed-json": ("fault=malformed_json:1", openai.InternalServerError, 502, "UpstreamBadResponse"),
    "cut-before": ("fault=stream_cut:1:0", openai.InternalServerError, 502, "UpstreamConnectionError"),
    "slow-first-token": ("ttft=5000", openai.InternalServerError, 504, "UpstreamTimeout"),
    "stall-before": ("fault=stall:1:0", openai.InternalServerError, 504, "UpstreamTimeout"),
    "hang": ("fault=hang:1", openai.InternalServerError, 504, "UpstreamTimeout"),
}
# route → (scripted behaviour, error code in the stream's error event, error class in the request log)
MID_STREAM: dict[str, tuple[str, str, str]] = {
    "cut-after": ("fault=stream_cut:1:3", "upstream_connection_error", "UpstreamConnectionError"),
    "stall-after": ("fault=stall:1:3", "upstream_timeout", "UpstreamTimeout"),
}
RETRIES = {"max_attempts": 3, "backoff_base_s": 0.05, "max_retry_after_s": 1}


def dead(name: str, script: str) -> dict[str, Any]:
    deadlines = {"first_token_s": 0.25, "idle_s": 0.25} if name in SILENT else {}
    if name == "stall-after":  # quick to notice a stall, but the first chunks must get through
        deadlines = {"first_token_s": 1.0, "idle_s": 0.25}
    return upstream(script, total_s=TOTAL_S, circuit=HOLD_CLOSED, **deadlines)


DEPLOYMENTS: dict[str, Any] = {
    "healthy": upstream(HEALTHY),
    **{f"dead-{name}": dead(name, script) for name, (script, *_) in DEAD.items()},
    **{f"dead-{name}": dead(name, f"{HEALTHY},{script}") for name, (script, *_) in MID_STREAM.items()},
}
ROUTES: dict[str, Any] = {
    **{f"only-{name}": {"deployments": [f"dead-{name}"], "retries": RETRIES} for name in [*DEAD, *MID_STREAM]},
    # A healthy deployment behind cannot help once bytes went out: the answer cannot be spliced.
    "cut-after-then-healthy": {"deployments": ["dead-cut-after", "healthy"], "retries": RETRIES},
}


@pytest.fixture(scope="module")
def gateway(start_gateway: StartGateway) -> Iterator[Gateway]:
    with start_gateway({"routes": ROUTES, "deployments": DEPLOYMENTS}) as gateway:
        yield gateway


@pytest.mark.parametrize("name", DEAD)
async def test_no_healthy_deployment_gives_an_honest_error_in_time(gateway: Gateway, name: str) -> None:
    _, error, status, error_class = DEAD[name]
    started = time.monotonic()
    async with gateway.async_client() as client:
        outcomes = await asyncio.gather(*(ask_async(client, f"only-{name}", stream=s) for s in (False, True)))
    assert time.monotonic() - started < TOTAL_S + SLACK_S
    for outcome, record in zip(outcomes, gateway.records(o.request_id for o in outcomes), strict=True):
        assert isinstance(outcome.error, error), outcome.error
        assert outcome.status == status
        assert outcome.chunks == 0
        assert (record["status"], record["error_class"]) == (status, error_class)
        attempts = record["attempts"]
        assert 1 <= len(attempts) <= RETRIES["max_attempts"]
        assert all(a["error_class"] == error_class and a["deployment"] == f"dead-{name}" for a in attempts)
        if name == "rate-limit-short":  # a Retry-After within max_retry_after_s is waited for, then retried
            assert [a["kind"] for a in attempts] == ["primary", "retry", "retry"]
        if name == "rate-limit":  # a longer one is not waited for: with nowhere else to go, the 429 passes on
            assert len(attempts) == 1 and outcome.error.response.headers["retry-after"] == "30"


@pytest.mark.parametrize("route", ["only-cut-after", "only-stall-after", "cut-after-then-healthy"])
def test_a_fault_after_the_first_byte_ends_the_stream_with_an_error_event(gateway: Gateway, route: str) -> None:
    name = "stall-after" if "stall" in route else "cut-after"
    _, code, error_class = MID_STREAM[name]
    started = time.monotonic()
    with gateway.client() as client:
        outcome = ask(client, route, stream=True)
    assert time.monotonic() - started < TOTAL_S + SLACK_S
    assert outcome.chunks >= 1 and not outcome.finished
    # An error event is a plain APIError carrying OpenAI's error body; a dropped connection would be
    # an APIConnectionError, and a clean end no error at all.
    assert type(outcome.error) is openai.APIError, repr(outcome.error)
    assert isinstance(outcome.error.body, dict) and outcome.error.body["code"] == code
    record = gateway.record(outcome.request_id)
    assert (record["status"], record["error_class"], record["deployment"]) == (
        502 if name == "cut-after" else 504,
        error_class,
        f"dead-{name}",
    )
    assert [(a["deployment"], a["error_class"]) for a in record["attempts"]] == [(f"dead-{name}", error_class)]


@pytest.mark.parametrize("name", MID_STREAM)
async def test_the_same_fault_is_retried_when_the_request_is_not_a_stream(gateway: Gateway, name: str) -> None:
    """Without a stream nothing was sent before the fault, so Keel may retry: here, into the same
    fault, ending in an honest error within the deadline (a 502 for the reset, a 504 for the silence)."""
    async with gateway.async_client() as client:
        with pytest.raises(openai.InternalServerError) as caught:
            await client.chat.completions.create(model=f"only-{name}", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == (502 if name == "cut-after" else 504)
    record = gateway.record(caught.value.response.headers["x-request-id"])
    if name == "cut-after":
        # Retried: at least once within the total deadline (three times unless the machine is very slow).
        assert 2 <= len(record["attempts"]) <= RETRIES["max_attempts"]
    else:
        # A whole answer is bounded by total_s, not by a stream's idle deadline: the silent attempt
        # uses up the request's deadline and is not retried past it.
        assert len(record["attempts"]) == 1
