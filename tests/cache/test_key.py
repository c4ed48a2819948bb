"""Cache keys ignore JSON key order and delivery-only fields, and change with anything that changes the answer."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from keel.cache import CacheConfig, cache_key, cacheable

scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False) | st.text(max_size=8)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=6,
)
messages = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["system", "user", "assistant"]), "content": st.text(max_size=20)},
        optional={"name": st.text(max_size=5)},
    ),
    min_size=1,
    max_size=4,
)
tools = st.lists(
    st.fixed_dictionaries(
        {
            "type": st.just("function"),
            "function": st.fixed_dictionaries(
                {
                    "name": st.text(min_size=1, max_size=8),
                    "parameters": st.dictionaries(st.text(max_size=5), json_values),
                }
            ),
        }
    ),
    max_size=2,
)
bodies = st.fixed_dictionaries(
    {"model": st.text(max_size=10), "messages": messages},
    optional={
        "temperature": st.floats(0, 2),
        "tools": tools,
        "max_tokens": st.integers(1, 4096),
        "response_format": st.dictionaries(st.text(max_size=5), json_values, max_size=3),
    },
)
CHANGEABLE = {"messages": messages, "model": st.text(max_size=10), "temperature": st.floats(0, 2), "tools": tools}


def shuffled(value: Any, rng: random.Random) -> Any:
    """The same JSON value with every object's keys inserted in a random order."""
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {name: shuffled(item, rng) for name, item in items}
    if isinstance(value, list):
        return [shuffled(item, rng) for item in value]
    return value


@given(bodies, st.randoms(use_true_random=False))
def test_key_order_never_changes_the_key(body: dict[str, Any], rng: random.Random) -> None:
    assert cache_key("chat", "gpt-4o", shuffled(body, rng)) == cache_key("chat", "gpt-4o", body)


@given(bodies, st.data())
def test_changing_an_answer_relevant_field_changes_the_key(body: dict[str, Any], data: st.DataObject) -> None:
    field = data.draw(st.sampled_from(sorted(CHANGEABLE)))
    new = data.draw(CHANGEABLE[field])
    assume(body.get(field, object()) != new)
    assert cache_key("chat", None, {**body, field: new}) != cache_key("chat", None, body)


@given(bodies, st.data())
def test_removing_a_field_changes_the_key(body: dict[str, Any], data: st.DataObject) -> None:
    field = data.draw(st.sampled_from(sorted(body)))
    smaller = {name: value for name, value in body.items() if name != field}
    assert cache_key("chat", None, smaller) != cache_key("chat", None, body)


@given(
    bodies,
    st.fixed_dictionaries(
        {},
        optional={
            "stream": st.booleans(),
            "stream_options": st.just({"include_usage": True}),
            "user": st.text(max_size=8),
            "metadata": st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
            "store": st.booleans(),
            "service_tier": st.sampled_from(["auto", "default", "flex"]),
        },
    ),
)
def test_delivery_fields_do_not_change_the_key(body: dict[str, Any], extra: dict[str, Any]) -> None:
    assert cache_key("chat", "m", {**body, **extra}) == cache_key("chat", "m", body)


def test_route_and_deployment_model_are_part_of_the_key() -> None:
    body = {"model": "fast", "messages": [{"role": "user", "content": "hi"}]}
    keys = {
        cache_key("chat", "gpt-4o", body),
        cache_key("support", "gpt-4o", body),
        cache_key("chat", "gpt-4o-mini", body),
        cache_key("chat", None, body),
    }
    assert len(keys) == 4
    assert all(len(key) == 64 for key in keys)


ON = CacheConfig(enabled=True)
DETERMINISTIC = CacheConfig(enabled=True, only_deterministic=True)


@pytest.mark.parametrize(
    ("body", "config", "expected"),
    [
        ({}, CacheConfig(), False),
        ({}, ON, True),
        ({"n": 1}, ON, True),
        ({"n": None}, ON, True),
        ({"n": 2}, ON, False),
        ({"n": True}, ON, False),
        ({"n": "1"}, ON, False),
        ({"temperature": 0.7}, ON, True),
        ({"temperature": 0}, DETERMINISTIC, True),
        ({"temperature": 0.0, "n": 1}, DETERMINISTIC, True),
        ({"temperature": 0.2}, DETERMINISTIC, False),
        ({}, DETERMINISTIC, False),
        ({"temperature": None}, DETERMINISTIC, False),
        ({"temperature": "0"}, DETERMINISTIC, False),
        ({"temperature": 0, "n": 3}, DETERMINISTIC, False),
    ],
)
def test_cacheable(body: dict[str, Any], config: CacheConfig, expected: bool) -> None:
    assert cacheable(body, config) is expected
