"""Property: any valid config written out as YAML reads back as the same config, with the same hash."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from keel.config.loader import parse_config, read_runtime_config
from keel.config.resilience import RetryConfig, Timeouts
from keel.config.schema import DeploymentConfig, KeelConfig, RouteConfig, ServerConfig, StorageConfig
from keel.simulator.behaviour import Fault, Latency, SimulatedModel

names = st.from_regex(r"[a-z][a-z0-9._-]{0,12}", fullmatch=True)
text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"), exclude_characters="$"), max_size=20)

latency = st.builds(
    Latency,
    distribution=st.sampled_from(["fixed", "uniform", "normal", "lognormal"]),
    ms=st.floats(0, 5000, allow_nan=False),
    spread_ms=st.floats(0, 100, allow_nan=False),
)
fault = st.builds(
    Fault,
    kind=st.sampled_from(["server_error", "rate_limit", "stream_cut", "hang", "malformed_json"]),
    rate=st.floats(0, 1, allow_nan=False),
    after_chunks=st.integers(0, 50),
)
simulated = st.builds(
    SimulatedModel,
    ttft=latency,
    tokens_per_s=st.none() | st.floats(1, 1000, allow_nan=False),
    output_tokens=st.integers(1, 500),
    reply=st.none() | text,
    faults=st.lists(fault, max_size=3).map(tuple),
)


@st.composite
def configs(draw: st.DrawFn) -> KeelConfig:
    dep_names = draw(st.lists(names, min_size=1, max_size=4, unique=True))
    deployments = {}
    for name in dep_names:
        if draw(st.booleans()):
            deployments[name] = DeploymentConfig(provider="simulator", simulator=draw(st.none() | simulated))
        else:
            deployments[name] = DeploymentConfig(
                provider=draw(st.sampled_from(["openai", "groq", "vllm", "anthropic"])),
                model=draw(names),
                api_key=draw(st.none() | text),
                timeouts=Timeouts(total_s=draw(st.floats(0.1, 1000, allow_nan=False))),
                weight=draw(st.floats(0.01, 100, allow_nan=False)),
                headers=draw(st.dictionaries(names, text, max_size=2)),
            )
    route_names = draw(st.lists(names.filter(lambda n: n not in deployments), max_size=3, unique=True))
    routes = {
        r: RouteConfig(
            deployments=tuple(draw(st.lists(st.sampled_from(dep_names), min_size=1, max_size=3))),
            description=draw(text),
            log_bodies=draw(st.booleans()),
            strategy=draw(st.sampled_from(["priority", "weighted", "least_busy", "latency"])),
            retries=RetryConfig(max_attempts=draw(st.integers(1, 5))),
        )
        for r in route_names
    }
    return KeelConfig(
        server=ServerConfig(port=draw(st.integers(0, 65535)), workers=draw(st.integers(1, 8))),
        storage=StorageConfig(database_url=draw(st.sampled_from(["sqlite:///x.db", "postgresql://u@h/db"]))),
        routes=routes,
        deployments=deployments,
    )


@settings(max_examples=150, deadline=None)
@given(configs())
def test_config_round_trips_through_yaml(config: KeelConfig) -> None:
    written = yaml.safe_dump(config.model_dump(mode="json"), allow_unicode=True, sort_keys=False)
    assert parse_config(written, env={}) == config


@settings(max_examples=50, deadline=None)
@given(configs())
def test_hash_is_a_function_of_content(config: KeelConfig) -> None:
    data = config.model_dump(mode="json")
    forward = yaml.safe_dump(data, sort_keys=False)
    reordered = yaml.safe_dump(dict(reversed(list(data.items()))), sort_keys=True)
    a = read_runtime_config(forward, file="a", base_dir=Path("."), env={})
    b = read_runtime_config(reordered, file="b", base_dir=Path("."), env={})
    assert a.hash == b.hash
