"""The simulator engine's pure logic: resolution, draws, reply shapes, embeddings."""

from __future__ import annotations

import base64
import math
import random
import struct
from collections import Counter
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from openai.types import CreateEmbeddingResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from keel.core.errors import InvalidRequest
from keel.simulator.behaviour import Fault, Latency, SimulatedModel
from keel.simulator.engine import MAX_LATENCY_MS, Profile, SimulatorEngine

USER = [{"role": "user", "content": "please reset my password"}]
TOOL = [{"type": "function", "function": {"name": "f"}}]


def engine(models: dict[str, SimulatedModel] | None = None, seed: int = 1) -> SimulatorEngine:
    return SimulatorEngine(models or {}, SimulatedModel(), random.Random(seed))


def chat(**extra: Any) -> dict[str, Any]:
    return {"model": "m", "messages": USER, **extra}


def test_fault_rates_become_observed_frequencies() -> None:
    model = SimulatedModel(
        faults=(Fault(kind="rate_limit", rate=0.2), Fault(kind="server_error", rate=0.3)),
    )
    sim = engine()
    profile = Profile.of(model)
    draws = 20_000
    seen = Counter(f.kind if (f := sim.draw_fault(profile)) else None for _ in range(draws))
    assert seen["rate_limit"] / draws == pytest.approx(0.2, abs=0.015)
    assert seen["server_error"] / draws == pytest.approx(0.3, abs=0.015)
    assert seen[None] / draws == pytest.approx(0.5, abs=0.015)


def test_rates_over_one_are_scaled_and_every_request_faults() -> None:
    model = SimulatedModel(faults=(Fault(kind="hang", rate=0.8), Fault(kind="overloaded", rate=0.8)))
    sim = engine()
    profile = Profile.of(model)
    seen = Counter(f.kind if (f := sim.draw_fault(profile)) else None for _ in range(10_000))
    assert seen[None] == 0
    assert seen["hang"] / 10_000 == pytest.approx(0.5, abs=0.02)


def test_same_seed_same_draws() -> None:
    model = SimulatedModel(
        ttft=Latency(distribution="lognormal", ms=50, spread_ms=0.5),
        faults=(Fault(kind="rate_limit", rate=0.5),),
    )
    first, second = engine(seed=42), engine(seed=42)
    for _ in range(50):
        assert first.draw_latency_ms(model.ttft) == second.draw_latency_ms(model.ttft)
        assert first.draw_fault(Profile.of(model)) == second.draw_fault(Profile.of(model))


@given(
    distribution=st.sampled_from(["fixed", "uniform", "normal", "lognormal"]),
    ms=st.floats(min_value=0, max_value=1e9, allow_nan=False),
    spread=st.floats(min_value=0, max_value=1e6, allow_nan=False),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_latency_draws_are_never_negative(distribution: Any, ms: float, spread: float, seed: int) -> None:
    latency = Latency(distribution=distribution, ms=ms, spread_ms=spread)
    sim = engine(seed=seed)
    for _ in range(20):
        assert 0.0 <= sim.draw_latency_ms(latency) <= MAX_LATENCY_MS


def test_resolution_order() -> None:
    configured = SimulatedModel(output_tokens=3)
    sim = SimulatorEngine({"fast": configured, "sim:odd": configured}, SimulatedModel(output_tokens=7))
    assert sim.behaviour("fast") is configured
    assert sim.behaviour("sim:odd") is configured  # configured names win over the sim: syntax
    assert sim.behaviour("sim:tokens=5").output_tokens == 5
    assert sim.behaviour("gpt-anything").output_tokens == 7
    with pytest.raises(InvalidRequest, match="unknown directive 'bogus'"):
        sim.behaviour("sim:bogus=1")


def test_reply_is_derived_from_the_last_user_message() -> None:
    sim = engine({"m": SimulatedModel(output_tokens=6)})
    body = chat(messages=[*USER, {"role": "assistant", "content": "x"}, {"role": "user", "content": "a b"}])
    done = ChatCompletion.model_validate(sim.completion(sim.plan_chat(body)))
    assert done.choices[0].message.content == "a b a b a b"
    assert done.usage is not None
    assert (done.usage.prompt_tokens, done.usage.completion_tokens) == (7, 6)


def test_fixed_reply_max_tokens_and_n() -> None:
    sim = engine({"m": SimulatedModel(reply="one two three four")})
    full = sim.completion(sim.plan_chat(chat(n=3)))
    assert [c["message"]["content"] for c in full["choices"]] == ["one two three four"] * 3
    assert full["usage"]["completion_tokens"] == 12
    cut = sim.completion(sim.plan_chat(chat(max_tokens=2)))
    assert cut["choices"][0]["message"]["content"] == "one two"
    assert cut["choices"][0]["finish_reason"] == "length"


def test_tools_answer_with_a_call() -> None:
    tools = [
        {"type": "function", "function": {"name": "first", "parameters": {"type": "object"}}},
        {
            "type": "function",
            "function": {
                "name": "weather",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                    "required": ["city"],
                },
            },
        },
    ]
    sim = engine()
    first = ChatCompletion.model_validate(sim.completion(sim.plan_chat(chat(tools=tools))))
    assert first.choices[0].finish_reason == "tool_calls"
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert (call.function.name, call.function.arguments) == ("first", "{}")  # type: ignore[union-attr]
    named = sim.completion(
        sim.plan_chat(chat(tools=tools, tool_choice={"type": "function", "function": {"name": "weather"}}))
    )
    function = named["choices"][0]["message"]["tool_calls"][0]["function"]
    assert orjson.loads(function["arguments"]) == {"city": "sim"}
    plain = sim.completion(sim.plan_chat(chat(tools=tools, tool_choice="none")))
    assert plain["choices"][0]["finish_reason"] == "stop"


def test_json_response_formats() -> None:
    sim = engine()
    loose = sim.completion(sim.plan_chat(chat(response_format={"type": "json_object"})))
    assert isinstance(orjson.loads(loose["choices"][0]["message"]["content"]), dict)
    schema = {
        "type": "object",
        "properties": {
            "answer": {"type": "string"},
            "mood": {"enum": ["happy", "sad"]},
            "score": {"type": ["number", "null"]},
            "tags": {"type": "array", "items": {"type": "string"}},
            "meta": {"type": "object", "properties": {"ok": {"type": "boolean"}}},
        },
    }
    strict = sim.completion(
        sim.plan_chat(chat(response_format={"type": "json_schema", "json_schema": {"name": "s", "schema": schema}}))
    )
    assert orjson.loads(strict["choices"][0]["message"]["content"]) == {
        "answer": "sim",
        "mood": "happy",
        "score": 0,
        "tags": [],
        "meta": {"ok": False},
    }


@pytest.mark.parametrize("tools", [False, True])
def test_chunks_match_the_completion(tools: bool) -> None:
    sim = engine({"m": SimulatedModel(tokens_per_s=100, output_tokens=4)})
    extra: dict[str, Any] = {"n": 2, "stream_options": {"include_usage": True}}
    if tools:
        extra["tools"] = [{"type": "function", "function": {"name": "f"}}]
    plan = sim.plan_chat(chat(**extra))
    timed = sim.chunks(plan)
    chunks = [ChatCompletionChunk.model_validate(c) for _, c in timed]
    offsets = [at for at, _ in timed]
    assert offsets == sorted(offsets)
    assert offsets[-1] == pytest.approx(plan.generation_s)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == plan.usage["completion_tokens"]
    for index in range(2):
        mine = [c.choices[0] for c in chunks if c.choices and c.choices[0].index == index]
        assert mine[-1].finish_reason == ("tool_calls" if tools else "stop")
        if tools:
            parts = [t.function.arguments for c in mine for t in c.delta.tool_calls or [] if t.function]
            assert "".join(p or "" for p in parts) == "{}"
        else:
            text = "".join(c.delta.content or "" for c in mine)
            assert text == "please reset my password"


@pytest.mark.parametrize("extra", [{}, {"n": 2, "stream_options": {"include_usage": True}}, {"tools": TOOL}])
def test_frames_are_the_chunks_serialized(extra: dict[str, Any]) -> None:
    sim = engine({"m": SimulatedModel(tokens_per_s=50, output_tokens=3)})
    plan = sim.plan_chat(chat(**extra))
    offsets, frames = sim.frames(plan)
    timed = sim.chunks(plan)
    assert offsets == [at for at, _ in timed]
    assert all(frame.startswith(b"data: ") and frame.endswith(b"\n\n") for frame in frames)
    assert [orjson.loads(frame[6:]) for frame in frames] == [chunk for _, chunk in timed]


def test_context_window_fault_is_automatic() -> None:
    sim = engine({"m": SimulatedModel(context_window=3)})
    plan = sim.plan_chat(chat())
    assert plan.fault is not None and plan.fault.kind == "context_length"
    assert engine().plan_chat(chat()).fault is None


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": USER}, "model"),
        ({"model": "m"}, "messages"),
        ({"model": "m", "messages": []}, "messages"),
        ({"model": "m", "messages": ["hi"]}, "messages"),
        ({"model": "m", "messages": USER, "n": 0}, "n"),
        ({"model": "m", "messages": USER, "tools": [{"type": "function"}]}, "tools"),
    ],
)
def test_bad_chat_requests(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        engine().plan_chat(body)
    assert caught.value.param == param


def test_embeddings_are_deterministic_unit_vectors() -> None:
    sim = engine({"e": SimulatedModel(embedding_dim=32)})
    body = {"model": "e", "input": ["hello world", "hello world", "other", [1, 2, 3]]}
    reply = CreateEmbeddingResponse.model_validate(sim.embeddings(sim.plan_embeddings(body)))
    vectors = [d.embedding for d in reply.data]
    assert all(len(v) == 32 for v in vectors)
    assert all(math.isclose(math.fsum(x * x for x in v), 1.0) for v in vectors)
    assert vectors[0] == vectors[1] != vectors[2]
    assert reply.usage.prompt_tokens == 2 + 2 + 1 + 3
    tokens = sim.embeddings(sim.plan_embeddings({"model": "e", "input": [1, 2, 3]}))
    assert tokens["data"][0]["embedding"] == vectors[3]
    small = sim.embeddings(sim.plan_embeddings({"model": "e", "input": "x", "dimensions": 4}))
    assert len(small["data"][0]["embedding"]) == 4


def test_embeddings_base64() -> None:
    sim = engine()
    as_floats = sim.embeddings(sim.plan_embeddings({"model": "m", "input": "hi"}))["data"][0]["embedding"]
    packed = sim.embeddings(sim.plan_embeddings({"model": "m", "input": "hi", "encoding_format": "base64"}))
    raw = base64.b64decode(packed["data"][0]["embedding"])
    decoded = struct.unpack(f"<{len(raw) // 4}f", raw)
    assert decoded == pytest.approx(as_floats, abs=1e-6)


@pytest.mark.parametrize(
    "body",
    [
        {"model": "m"},
        {"model": "m", "input": []},
        {"model": "m", "input": [None]},
        {"model": "m", "input": "x", "dimensions": 0},
        {"model": "m", "input": "x", "encoding_format": "hex"},
    ],
)
def test_bad_embedding_requests(body: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest):
        engine().plan_embeddings(body)
