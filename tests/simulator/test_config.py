"""The simulator's YAML file and scriptable model names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.core.errors import InvalidRequest
from keel.simulator.behaviour import Fault, Latency, SimulatedModel
from keel.simulator.config import format_model_name, load_simulator_config, parse_model_name
from keel.simulator.engine import SimulatorEngine

_KINDS = [
    "server_error",
    "overloaded",
    "rate_limit",
    "connection_reset",
    "stream_cut",
    "malformed_json",
    "hang",
    "stall",
    "content_filter",
    "context_length",
]
_unit = st.floats(min_value=0, max_value=1, allow_nan=False)
_positive = st.floats(min_value=0, max_value=1e6, allow_nan=False)


@st.composite
def faults(draw: st.DrawFn) -> Fault:
    kind: Any = draw(st.sampled_from(_KINDS))
    # Only the parameter a kind uses is expressible in a name; the others keep their defaults.
    if kind == "rate_limit":
        return Fault(kind=kind, rate=draw(_unit), retry_after_s=draw(_positive))
    if kind in ("stream_cut", "stall"):
        return Fault(kind=kind, rate=draw(_unit), after_chunks=draw(st.integers(0, 1000)))
    return Fault(kind=kind, rate=draw(_unit))


models = st.builds(
    SimulatedModel,
    ttft=st.builds(
        Latency,
        distribution=st.sampled_from(["fixed", "uniform", "normal", "lognormal"]),
        ms=_positive,
        spread_ms=_positive,
    ),
    tokens_per_s=st.none() | st.floats(min_value=1e-3, max_value=1e6, allow_nan=False),
    output_tokens=st.integers(1, 100_000),
    reply=st.none() | st.text(max_size=30),
    embedding_dim=st.integers(1, 4096),
    context_window=st.integers(1, 10**7),
    faults=st.lists(faults(), max_size=4).map(tuple),
)


@given(models)
def test_scriptable_names_round_trip(model: SimulatedModel) -> None:
    assert parse_model_name(format_model_name(model)) == model


def test_the_documented_example() -> None:
    model = parse_model_name("sim:ttft=50,tps=200,tokens=30,fault=rate_limit:0.2,fault=stream_cut:0.5")
    assert model.ttft == Latency(ms=50)
    assert (model.tokens_per_s, model.output_tokens) == (200, 30)
    assert model.faults == (Fault(kind="rate_limit", rate=0.2), Fault(kind="stream_cut", rate=0.5))
    assert parse_model_name("sim:") == SimulatedModel()
    assert parse_model_name("sim:reply=a%2C b,ttft=5:uniform:2").reply == "a, b"


@pytest.mark.parametrize(
    ("name", "complaint"),
    [
        ("sim:ttft", "is not key=value"),
        ("sim:speed=3", "unknown directive 'speed'"),
        ("sim:tps=fast", "'fast' is not a number"),
        ("sim:tps=inf", "not a finite number"),
        ("sim:tokens=2.5", "'2.5' is not an integer"),
        ("sim:tokens=0", "output_tokens"),
        ("sim:tokens=1,tokens=2", "'tokens' is given twice"),
        ("sim:ttft=5:gamma:1", "unknown distribution 'gamma'"),
        ("sim:ttft=-5", "ttft"),
        ("sim:fault=meltdown:0.1", "unknown fault kind 'meltdown'"),
        ("sim:fault=rate_limit", "is not KIND:RATE[:PARAM]"),
        ("sim:fault=rate_limit:1.5", "less than or equal to 1"),
        ("sim:fault=hang:0.1:3", "takes no parameter"),
        ("gpt-4o", "does not start with"),
    ],
)
def test_bad_names_say_what_is_wrong(name: str, complaint: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_model_name(name)
    assert complaint in caught.value.message
    assert caught.value.param == "model"


def test_load_yaml(tmp_path: Path) -> None:
    path = tmp_path / "sim.yaml"
    path.write_text(
        "default: {ttft: {ms: 20}, output_tokens: 5}\n"
        "models:\n"
        "  flaky:\n"
        "    ttft: {distribution: lognormal, ms: 80, spread_ms: 0.4}\n"
        "    tokens_per_s: 150\n"
        "    faults: [{kind: rate_limit, rate: 0.1, retry_after_s: 2}]\n"
    )
    config = load_simulator_config(path)
    assert config.default.output_tokens == 5
    assert config.models["flaky"].faults == (Fault(kind="rate_limit", rate=0.1, retry_after_s=2),)
    engine = SimulatorEngine.from_config(config)
    assert engine.model_names == ("flaky",)
    assert engine.behaviour("unknown") == config.default
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load_simulator_config(empty).models == {}


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("models:\n  fast:\n    ttft: {msx: 5}\n", "models.fast.ttft.msx: Extra inputs are not permitted"),
        ("models:\n  fast:\n    output_tokens: '5'\n", "models.fast.output_tokens"),
        ("default:\n  faults: [{kind: explode, rate: 1}]\n", "default.faults.0.kind"),
        ("- just\n- a list\n", "top level must be a mapping"),
        ("models: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_yaml_names_the_file_and_key(tmp_path: Path, text: str, complaint: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ValueError) as caught:
        load_simulator_config(path)
    assert str(path) in str(caught.value)
    assert complaint in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read simulator config"):
        load_simulator_config(tmp_path / "nope.yaml")
