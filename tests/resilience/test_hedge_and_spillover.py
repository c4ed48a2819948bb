"""Hedging past a slow deployment, and spilling over from a full provisioned one."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from tests.resilience.conftest import Gateway, StartGateway
from tests.resilience.drive import HEALTHY, ask, ask_async, batch, describe, upstream

SLOW_MS = 1500

DEPLOYMENTS: dict[str, Any] = {
    "slow": upstream(f"ttft={SLOW_MS},tps=1000,tokens=12"),
    "fast": upstream(HEALTHY),
    "reserved": upstream("ttft=300,tps=1000,tokens=12", capacity={"concurrency": 1}),
    "pay-as-you-go": upstream("ttft=300,tps=1000,tokens=12"),
}
ROUTES: dict[str, Any] = {
    "hedged": {"deployments": ["slow", "fast"], "hedge": {"after_ms": 100}},
    "provisioned": {"deployments": ["reserved", "pay-as-you-go"]},
}


@pytest.fixture(scope="module")
def gateway(start_gateway: StartGateway) -> Iterator[Gateway]:
    with start_gateway({"routes": ROUTES, "deployments": DEPLOYMENTS}) as gateway:
        yield gateway


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_hedge_answers_before_the_slow_deployment_would(gateway: Gateway, stream: bool) -> None:
    with gateway.client() as client:
        outcomes = [ask(client, "hedged", stream=stream) for _ in range(4)]
    assert all(o.error is None and o.finished for o in outcomes), describe(outcomes)
    # The fast deployment won every race: each answer came well before the slow one's first token,
    # which was then no longer waited for.
    assert {o.deployment for o in outcomes} == {"fast"}
    for record in gateway.records(o.request_id for o in outcomes):
        attempts = {(a["deployment"], a["kind"], a["error_class"]) for a in record["attempts"]}
        assert attempts == {("slow", "primary", "Cancelled"), ("fast", "hedge", None)}
        assert record["deployment"] == "fast"


async def test_a_full_provisioned_deployment_spills_over_to_pay_as_you_go(gateway: Gateway) -> None:
    async with gateway.async_client() as client:
        # Whole answers and streams at once: eight requests in flight, room for one on "reserved".
        whole, streams = await asyncio.gather(
            batch(client, "provisioned", 4, stream=False, concurrency=4),
            batch(client, "provisioned", 4, stream=True, concurrency=4),
        )
        # Alone, a request gets the provisioned deployment again (a stream's slot is released just after
        # its last byte went out, so the first request after the burst may still find it taken).
        for _ in range(3):
            alone = await ask_async(client, "provisioned", stream=False)
            if alone.deployment == "reserved":
                break
            await asyncio.sleep(0.1)
    outcomes = whole + streams
    assert all(o.error is None and o.finished for o in [*outcomes, alone]), describe(outcomes)
    assert {o.deployment for o in outcomes} == {"reserved", "pay-as-you-go"}
    assert alone.deployment == "reserved"
    kinds = {
        (a["deployment"], a["kind"]) for r in gateway.records(o.request_id for o in outcomes) for a in r["attempts"]
    }
    assert ("pay-as-you-go", "spillover") in kinds and ("reserved", "primary") in kinds
