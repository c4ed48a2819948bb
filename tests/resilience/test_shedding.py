"""Load shedding: past its in-flight cap a gateway answers a fast 503 with Retry-After, and stays healthy."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.resilience.conftest import Gateway, StartGateway
from tests.resilience.drive import ask_async, batch, upstream

RETRY_AFTER_S = 2


@pytest.fixture(scope="module")
def gateway(start_gateway: StartGateway) -> Iterator[Gateway]:
    config = {
        "server": {"shedding": {"max_in_flight": 2, "max_queued": 0, "retry_after_s": RETRY_AFTER_S}},
        "routes": {"slow": {"deployments": ["slow"]}},
        "deployments": {"slow": upstream("ttft=1000,tps=1000,tokens=12")},
    }
    with start_gateway(config) as gateway:
        yield gateway


async def test_a_burst_beyond_the_cap_is_shed_while_health_checks_answer(gateway: Gateway) -> None:
    async with gateway.async_client() as client, httpx.AsyncClient(base_url=gateway.url, timeout=10) as http:
        burst = asyncio.gather(
            batch(client, "slow", 6, stream=False, concurrency=6),
            batch(client, "slow", 6, stream=True, concurrency=6),
        )
        health = []
        for _ in range(5):  # while the admitted requests wait on their slow upstream
            await asyncio.sleep(0.1)
            health.append((await http.get("/healthz")).status_code)
        whole, streams = await burst
        # Served again once the burst is over (a slot is released just after its answer's last byte,
        # so the very next request may still find both taken).
        for _ in range(3):
            after = await ask_async(client, "slow", stream=True)
            if after.error is None:
                break
            await asyncio.sleep(0.1)
    assert health == [200] * 5
    outcomes = whole + streams
    served = [o for o in outcomes if o.error is None]
    shed = [o for o in outcomes if o.error is not None]
    assert served and all(o.finished for o in served)
    assert shed, "twelve requests at once, two slots, no queue: some must be shed"
    for o in shed:
        assert isinstance(o.error, openai.InternalServerError) and o.status == 503
        assert o.error.code == "overloaded"
        assert o.error.response.headers["retry-after"] == str(RETRY_AFTER_S)
    assert after.error is None and after.finished
