"""examples/resilience.yaml does what its comments and docs/resilience.md say."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from tests.conftest import ROOT
from tests.resilience.conftest import Gateway, gateway_process
from tests.resilience.drive import ask, batch, describe

EXAMPLE = ROOT / "examples" / "resilience.yaml"


@pytest.fixture(scope="module")
def gateway(sim_base: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with gateway_process(EXAMPLE, tmp_path_factory.mktemp("resilience-example"), sim_base) as gateway:
        yield gateway


async def test_chat_answers_whole_requests_and_cuts_streams_only_after_their_first_byte(gateway: Gateway) -> None:
    async with gateway.async_client() as client:
        whole = await batch(client, "chat", 30, stream=False)
        streams = await batch(client, "chat", 30, stream=True)
    # Every fault of a request that is not a stream happens before its answer: always failed over.
    assert all(o.error is None and o.finished for o in whole), describe(whole)
    for o in streams:
        if o.error is None:
            assert o.finished
            continue
        # Only "cutting" fails after the first byte, and the client is told so with an error event.
        assert type(o.error) is openai.APIError and o.chunks >= 1, repr(o.error)
        assert o.deployment == "cutting"
    records = gateway.records(o.request_id for o in whole + streams)
    failed = [a for r in records for a in r["attempts"] if a["error_class"] is not None]
    assert {a["deployment"] for a in failed} <= {"flaky", "cutting"}


def test_outage_is_answered_by_the_safe_mode_message(gateway: Gateway) -> None:
    with gateway.client() as client:
        outcome = ask(client, "outage", stream=True)
    assert outcome.error is None and outcome.finished and outcome.safe_mode == "unavailable"
    assert outcome.text.startswith("We are having trouble")


def test_a_kill_switch_sends_support_to_the_faq(gateway: Gateway) -> None:
    gateway.set_kill_switch("support", "safe_mode", "drill")
    try:
        with gateway.client() as client:
            outcome = ask(client, "support", stream=False)
        assert outcome.error is None and outcome.safe_mode == "kill_switch" and outcome.deployment == "faq"
        assert "Forgot password" in outcome.text
    finally:
        gateway.clear_kill_switch("support", "drill over")
