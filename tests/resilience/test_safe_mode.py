"""Safe mode: the route's degraded path answers when nothing else can, or when an operator says so."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.resilience.conftest import FAQ_FILE, Gateway, StartGateway
from tests.resilience.drive import HEALTHY, HOLD_CLOSED, ask, upstream

SORRY = "We are having trouble answering right now; a person will follow up."
RESET_ANSWER = 'Go to https://console.acme.example/login and choose "Forgot password".'

DEPLOYMENTS: dict[str, Any] = {
    "healthy": upstream(f"{HEALTHY},reply=from%20the%20model"),
    # Circuits held closed, so that every request shows its failed attempts.
    "down": upstream("fault=overloaded:1", circuit=HOLD_CLOSED),
    "reset": upstream("fault=connection_reset:1", circuit=HOLD_CLOSED),
    "down-too": upstream("fault=overloaded:1", circuit=HOLD_CLOSED),
    "faq": {"provider": "faq", "faq": {"file": FAQ_FILE, "min_confidence": 0.3}},
}
ROUTES: dict[str, Any] = {
    "faq-fallback": {"deployments": ["down", "reset"], "safe_mode": {"deployment": "faq"}},
    "static-fallback": {"deployments": ["down-too"], "safe_mode": {"message": SORRY}},
    "switchable": {"deployments": ["healthy"], "safe_mode": {"message": SORRY}},
    "switchable-faq": {"deployments": ["healthy"], "safe_mode": {"deployment": "faq"}},
}


@pytest.fixture(scope="module")
def gateway(start_gateway: StartGateway) -> Iterator[Gateway]:
    # Switches set through the admin API apply at once; the periodic reload from the store is kept out
    # of the way (see test_kill_board.py for the race it has with them).
    server = {"kill_switch_refresh_s": 60}
    with start_gateway({"server": server, "routes": ROUTES, "deployments": DEPLOYMENTS}) as gateway:
        yield gateway


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_when_every_deployment_fails_the_faq_answers(gateway: Gateway, stream: bool) -> None:
    with gateway.client() as client:
        outcome = ask(client, "faq-fallback", stream=stream)
    assert outcome.error is None and outcome.finished
    assert outcome.safe_mode == "unavailable"
    assert outcome.text.startswith(RESET_ANSWER)
    record = gateway.record(outcome.request_id)
    assert record["status"] == 200 and record["deployment"] == "faq"
    assert record["safe_mode"].startswith("unavailable")
    attempts = [(a["deployment"], a["kind"], a["error_class"]) for a in record["attempts"]]
    # Both deployments failed (each counted), then the safe-mode path answered.
    assert ("down", "primary", "UpstreamUnavailable") in attempts
    assert ("reset", "failover", "UpstreamConnectionError") in attempts
    assert attempts[-1] == ("faq", "safe_mode", None)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_when_every_deployment_fails_the_static_message_answers(gateway: Gateway, stream: bool) -> None:
    with gateway.client() as client:
        outcome = ask(client, "static-fallback", stream=stream)
    assert outcome.error is None and outcome.finished
    assert (outcome.safe_mode, outcome.text) == ("unavailable", SORRY)
    record = gateway.record(outcome.request_id)
    assert record["status"] == 200 and record["safe_mode"].startswith("unavailable")
    assert {(a["deployment"], a["error_class"]) for a in record["attempts"]} == {("down-too", "UpstreamUnavailable")}


def test_kill_switches_switch_to_safe_mode_refuse_and_clear(gateway: Gateway) -> None:
    with gateway.client() as client:
        normal = ask(client, "switchable", stream=False)
        assert (normal.text, normal.safe_mode, normal.deployment) == ("from the model", None, "healthy")

        gateway.set_kill_switch("switchable", "safe_mode", "upstream incident drill")
        for stream in (False, True):
            safe = ask(client, "switchable", stream=stream)
            assert safe.error is None and safe.finished
            assert (safe.text, safe.safe_mode) == (SORRY, "kill_switch")
            record = gateway.record(safe.request_id)
            assert "upstream incident drill" in record["safe_mode"]
            assert record["attempts"] == []  # the healthy deployment was not even asked
        gateway.clear_kill_switch("switchable", "drill over")

        gateway.set_kill_switch("switchable", "refuse", "maintenance window")
        refused = ask(client, "switchable", stream=True)
        assert isinstance(refused.error, openai.InternalServerError) and refused.status == 503
        assert refused.error.code == "kill_switch"
        assert "maintenance window" in refused.error.message

        gateway.clear_kill_switch("switchable", "maintenance over")
        for stream in (False, True):
            back = ask(client, "switchable", stream=stream)
            assert back.error is None and back.finished
            assert (back.text, back.safe_mode, back.deployment) == ("from the model", None, "healthy")


def test_a_safe_mode_kill_switch_can_send_a_route_to_the_faq(gateway: Gateway) -> None:
    gateway.set_kill_switch("switchable-faq", "safe_mode", "model misbehaving")
    try:
        with gateway.client() as client:
            outcome = ask(client, "switchable-faq", stream=True)
        assert outcome.error is None and outcome.finished
        assert outcome.safe_mode == "kill_switch" and outcome.text.startswith(RESET_ANSWER)
        record = gateway.record(outcome.request_id)
        assert [(a["deployment"], a["kind"]) for a in record["attempts"]] == [("faq", "safe_mode")]
    finally:
        gateway.clear_kill_switch("switchable-faq", "done")
