"""One conformance suite every provider passes: answer shapes, stream shapes, and error classes.

Each provider kind is driven through the same ``Provider`` interface the pipeline uses, against a
real upstream where it has one (the simulator server for the OpenAI codec, the Anthropic fake for the
Anthropic codec), and must produce the same OpenAI shapes and the same Keel error classes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

import pytest
from anthropic.types import TextBlock
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from keel.config.resilience import Timeouts
from keel.core.errors import (
    KeelError,
    RateLimited,
    UpstreamBadResponse,
    UpstreamConnectionError,
    UpstreamUnavailable,
)
from keel.providers.anthropic import AnthropicCodec
from keel.providers.base import Json, Provider, Target
from keel.providers.faq import FaqProvider, load_faq
from keel.providers.http import HttpProvider
from keel.providers.openai import OpenAICodec
from keel.providers.simulator import SimulatorProvider
from keel.providers.transport import HttpClient
from keel.simulator.behaviour import SimulatedModel
from keel.simulator.engine import SimulatorEngine
from keel.simulator.server import build_app
from tests.conftest import ROOT, ServerThread
from tests.fakes.anthropic_upstream import AnthropicUpstream, Raw, Reply

FAULTS = ("rate_limit", "server_error", "garbage", "stream_cut")
SCRIPTED = {
    "ok": "sim:tokens=6",
    "rate_limit": "sim:fault=rate_limit:1:3",
    "server_error": "sim:fault=server_error:1",
    "garbage": "sim:fault=malformed_json:1",
    "stream_cut": "sim:tokens=30,fault=stream_cut:1:2",
}
EXPECTED: dict[str, type[KeelError]] = {
    "rate_limit": RateLimited,
    "server_error": UpstreamUnavailable,
    "garbage": UpstreamBadResponse,
}
BODY: Json = {"model": "alias", "messages": [{"role": "user", "content": "how do I reset my password"}]}


@dataclass
class Kind:
    name: str
    make: Callable[[str, HttpClient], Provider]
    faults: tuple[str, ...] = FAULTS


@pytest.fixture(scope="module")
def sim_server() -> Iterator[str]:
    with ServerThread(lambda: build_app(SimulatorEngine({}, SimulatedModel()))) as server:
        yield server.url


@pytest.fixture(scope="module")
def anthropic() -> Iterator[tuple[AnthropicUpstream, str]]:
    upstream = AnthropicUpstream(api_key="k")
    with ServerThread(lambda: upstream.app) as server:
        yield upstream, server.url


def kinds(sim_url: str, fake: AnthropicUpstream, fake_url: str) -> dict[str, Kind]:
    def openai_http(scenario: str, session: HttpClient) -> Provider:
        target = Target(api_base=f"{sim_url}/v1", model=SCRIPTED[scenario], api_key="x")
        return HttpProvider(OpenAICodec(), target, session, timeouts=Timeouts(connect_s=2, total_s=10))

    def simulator(scenario: str, session: HttpClient) -> Provider:
        return SimulatorProvider(SimulatorEngine({}, SimulatedModel()), SCRIPTED[scenario])

    def anthropic_http(scenario: str, session: HttpClient) -> Provider:
        script = {
            "rate_limit": lambda: fake.fail(429, "rate_limit_error", "slow down", retry_after=3),
            "server_error": lambda: fake.fail(529, "overloaded_error", "Overloaded"),
            "garbage": lambda: fake.enqueue(Raw(200, b"<html>bad gateway</html>")),
            "stream_cut": lambda: fake.enqueue(
                Reply([TextBlock(type="text", text="a long answer cut short")], cut_after=4, abort=True)
            ),
        }
        if scenario in script:
            script[scenario]()
        target = Target(
            api_base=fake_url,
            model="claude-test",
            api_key="k",
            auth_header="x-api-key",
            headers={"anthropic-version": "2023-06-01"},
        )
        return HttpProvider(AnthropicCodec(), target, session, timeouts=Timeouts(connect_s=2, total_s=10))

    def faq(scenario: str, session: HttpClient) -> Provider:
        return FaqProvider(load_faq(ROOT / "src/keel/defaults/faq.yaml"))

    return {
        "openai": Kind("openai", openai_http),
        "simulator": Kind("simulator", simulator),
        "anthropic": Kind("anthropic", anthropic_http),
        "faq": Kind("faq", faq, faults=()),  # no upstream to fail
    }


@pytest.fixture(params=["openai", "simulator", "anthropic", "faq"])
async def kind(
    request: pytest.FixtureRequest, sim_server: str, anthropic: tuple[AnthropicUpstream, str]
) -> AsyncIterator[tuple[Kind, HttpClient]]:
    fake, fake_url = anthropic
    session = HttpClient()
    try:
        yield kinds(sim_server, fake, fake_url)[request.param], session
    finally:
        await session.aclose()


async def test_chat_answer_is_an_openai_chat_completion(kind: tuple[Kind, HttpClient]) -> None:
    k, session = kind
    completion = ChatCompletion.model_validate(await k.make("ok", session).chat(BODY))
    assert completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.completion_tokens > 0


async def test_stream_is_openai_chunks_with_a_final_usage_chunk(kind: tuple[Kind, HttpClient]) -> None:
    k, session = kind
    body = {**BODY, "stream": True, "stream_options": {"include_usage": True}}
    batches = [batch async for batch in k.make("ok", session).chat_stream(body)]
    assert all(batches)
    chunks = [ChatCompletionChunk.model_validate(c) for batch in batches for c in batch]
    with_choices = [c for c in chunks if c.choices]
    assert with_choices[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in with_choices)
    assert with_choices[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert len({c.id for c in chunks}) == 1


@pytest.mark.parametrize("fault", ["rate_limit", "server_error", "garbage"])
async def test_upstream_failures_map_to_one_error_class(kind: tuple[Kind, HttpClient], fault: str) -> None:
    k, session = kind
    if fault not in k.faults:
        pytest.skip(f"{k.name} has no upstream that can fail this way")
    with pytest.raises(KeelError) as info:
        await k.make(fault, session).chat(BODY)
    assert type(info.value) is EXPECTED[fault]
    assert info.value.retryable
    if fault == "rate_limit":
        assert isinstance(info.value, RateLimited) and info.value.retry_after_s == 3


async def test_stream_cut_raises_after_the_chunks_already_sent(kind: tuple[Kind, HttpClient]) -> None:
    k, session = kind
    if "stream_cut" not in k.faults:
        pytest.skip(f"{k.name} has no upstream to cut")
    received = 0
    with pytest.raises(UpstreamConnectionError):
        async for batch in k.make("stream_cut", session).chat_stream({**BODY, "stream": True}):
            received += len(batch)
    assert received >= 1
