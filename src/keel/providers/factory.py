"""Build the provider object for each deployment of a runtime config."""

from __future__ import annotations

from keel.config.runtime import Deployment, RuntimeConfig
from keel.providers.anthropic import AnthropicCodec
from keel.providers.base import Codec, Provider
from keel.providers.faq import FaqProvider, load_faq
from keel.providers.http import HttpProvider
from keel.providers.openai import OpenAICodec
from keel.providers.simulator import SimulatorProvider
from keel.providers.transport import HttpClient
from keel.simulator.behaviour import SimulatedModel
from keel.simulator.engine import SimulatorEngine

_CODECS: dict[str, Codec] = {"openai": OpenAICodec(), "anthropic": AnthropicCodec()}


def build_providers(config: RuntimeConfig, client: HttpClient) -> dict[str, Provider]:
    return {name: build_provider(dep, client) for name, dep in config.deployments.items()}


def build_provider(dep: Deployment, client: HttpClient) -> Provider:
    if dep.kind == "simulator":
        behaviour = dep.config.simulator
        # Without a behaviour section the model name may script one ("sim:ttft=50,fault=…").
        models = {dep.model: behaviour} if behaviour is not None else {}
        return SimulatorProvider(SimulatorEngine(models=models, default=SimulatedModel()), dep.model)
    if dep.kind == "faq":
        assert dep.faq_path is not None and dep.config.faq is not None
        source = dep.config.faq
        return FaqProvider(
            load_faq(dep.faq_path),
            min_confidence=source.min_confidence,
            fallback_answer=source.fallback_answer,
        )
    assert dep.target is not None and dep.codec is not None
    return HttpProvider(
        _CODECS[dep.codec],
        dep.target,
        client,
        timeouts=dep.config.timeouts,
    )
