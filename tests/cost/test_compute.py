"""Per-request cost in exact nano-dollars: examples, rounding, and properties over many usages."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from keel.cost.compute import Cost, component_nanos, cost_of
from keel.cost.money import usd_to_nanos
from keel.cost.prices import Price

GPT_4O = Price(input_per_mtok=2.5, output_per_mtok=10, cached_input_per_mtok=1.25)


def usage(prompt: int, completion: int, cached: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion}
    if cached is not None:
        data["prompt_tokens_details"] = {"cached_tokens": cached}
    return data


def test_cached_prompt_tokens_are_billed_at_the_cached_rate() -> None:
    cost = cost_of(GPT_4O, usage(1000, 500, cached=400), 0, 0)
    # 600 * $2.50/M = $0.0015, 400 * $1.25/M = $0.0005, 500 * $10/M = $0.005
    assert cost == Cost(
        prompt_nanos=1_500_000, completion_nanos=5_000_000, cached_nanos=500_000, total_nanos=7_000_000, estimated=False
    )
    assert cost.usd == 0.007
    assert cost.usd_decimal == Decimal("0.007")


def test_without_a_cached_rate_cached_tokens_cost_the_input_rate() -> None:
    price = Price(input_per_mtok=2.5, output_per_mtok=10)
    assert cost_of(price, usage(1000, 0, cached=400), 0, 0).total_nanos == 2_500_000


def test_missing_usage_falls_back_to_the_estimates_and_says_so() -> None:
    cost = cost_of(GPT_4O, None, 1000, 100)
    assert cost.estimated
    assert cost.total_nanos == 2_500_000 + 1_000_000
    # An empty usage object is a report of zero tokens, not a missing one.
    assert cost_of(GPT_4O, {}, 1000, 100) == Cost(0, 0, 0, 0, estimated=False)


def test_embeddings_usage_has_no_completion_tokens() -> None:
    price = Price(input_per_mtok=0.02, output_per_mtok=0)
    assert cost_of(price, {"prompt_tokens": 12345, "total_tokens": 12345}, 0, 0).total_nanos == 246_900


def test_bad_counts_from_an_upstream_count_as_none() -> None:
    bad = {"prompt_tokens": -5, "completion_tokens": "7", "prompt_tokens_details": {"cached_tokens": True}}
    assert cost_of(GPT_4O, bad, 0, 0).total_nanos == 0
    # More cached tokens than prompt tokens: the cache cannot have served more than the prompt.
    assert cost_of(GPT_4O, usage(100, 0, cached=500), 0, 0) == Cost(0, 0, 125_000, 125_000, estimated=False)


def test_each_component_is_rounded_half_to_even_once() -> None:
    tiny = Price(input_per_mtok=0.0005, output_per_mtok=0.0015)  # half and one and a half nanos per token
    assert component_nanos(1, 0.0005) == 0  # 0.5 → 0
    assert component_nanos(3, 0.0005) == 2  # 1.5 → 2
    assert component_nanos(5, 0.0005) == 2  # 2.5 → 2
    cost = cost_of(tiny, usage(1, 1), 0, 0)
    assert (cost.prompt_nanos, cost.completion_nanos, cost.total_nanos) == (0, 2, 2)


def test_decimal_prices_are_taken_as_written_not_as_binary_floats() -> None:
    # 0.1 as a binary float is 0.1000000000000000055…; a billion tokens would show the difference.
    assert component_nanos(1_000_000_000, 0.1) == 100_000_000_000


tokens = st.integers(min_value=0, max_value=10_000_000)
rates = st.floats(min_value=0, max_value=200, allow_nan=False, allow_infinity=False)
# List prices: whole thousandths of a dollar per million tokens (every published price today).
list_rates = st.integers(min_value=0, max_value=200_000).map(lambda n: n / 1000)


@st.composite
def prices(draw: st.DrawFn, rate: st.SearchStrategy[float] = rates) -> Price:
    cached = draw(st.none() | rate)
    return Price(input_per_mtok=draw(rate), output_per_mtok=draw(rate), cached_input_per_mtok=cached)


@st.composite
def usages(draw: st.DrawFn) -> dict[str, Any]:
    prompt = draw(tokens)
    return usage(prompt, draw(tokens), cached=draw(st.integers(min_value=0, max_value=prompt)))


@given(prices(), usages())
def test_total_is_the_sum_of_its_parts(price: Price, use: dict[str, Any]) -> None:
    cost = cost_of(price, use, 0, 0)
    assert cost.total_nanos == cost.prompt_nanos + cost.cached_nanos + cost.completion_nanos
    assert min(cost.prompt_nanos, cost.cached_nanos, cost.completion_nanos) >= 0


@given(prices(), usages())
def test_each_component_is_within_half_a_nano_of_the_exact_amount(price: Price, use: dict[str, Any]) -> None:
    cost = cost_of(price, use, 0, 0)
    exact = Decimal(use["completion_tokens"]) * Decimal(repr(price.output_per_mtok)) * 1000
    assert abs(cost.completion_nanos - exact) <= Decimal("0.5")


@given(prices(), usages(), usages())
def test_cost_is_linear_in_tokens_within_one_nano_per_component(
    price: Price, first: dict[str, Any], second: dict[str, Any]
) -> None:
    both = usage(
        first["prompt_tokens"] + second["prompt_tokens"],
        first["completion_tokens"] + second["completion_tokens"],
        cached=first["prompt_tokens_details"]["cached_tokens"] + second["prompt_tokens_details"]["cached_tokens"],
    )
    a, b, ab = cost_of(price, first, 0, 0), cost_of(price, second, 0, 0), cost_of(price, both, 0, 0)
    assert abs(ab.prompt_nanos - a.prompt_nanos - b.prompt_nanos) <= 1
    assert abs(ab.cached_nanos - a.cached_nanos - b.cached_nanos) <= 1
    assert abs(ab.completion_nanos - a.completion_nanos - b.completion_nanos) <= 1


@given(prices(list_rates), tokens, st.integers(min_value=0, max_value=10_000_000), tokens)
def test_cached_tokens_never_cost_more_than_uncached_ones(
    price: Price, prompt: int, cached: int, completion: int
) -> None:
    cached = min(cached, prompt)
    with_cache = cost_of(price, usage(prompt, completion, cached=cached), 0, 0)
    without = cost_of(price, usage(prompt, completion), 0, 0)
    if price.cached_input_per_mtok is not None and price.cached_input_per_mtok <= price.input_per_mtok:
        assert with_cache.total_nanos <= without.total_nanos
    else:
        assert with_cache.total_nanos >= without.total_nanos


@given(prices(), usages())
def test_any_rate_keeps_cached_tokens_within_a_nano_of_uncached_ones(price: Price, use: dict[str, Any]) -> None:
    # With rates finer than a nano-dollar per token, splitting the prompt rounds two parts instead of one.
    no_cache = usage(use["prompt_tokens"], use["completion_tokens"])
    if price.cached_input_per_mtok is not None and price.cached_input_per_mtok <= price.input_per_mtok:
        assert cost_of(price, use, 0, 0).total_nanos <= cost_of(price, no_cache, 0, 0).total_nanos + 1


@given(st.integers(min_value=0, max_value=4_000_000_000_000_000))
def test_the_float_total_reads_back_to_the_same_nanos(nanos: int) -> None:
    assert usd_to_nanos(Cost(nanos, 0, 0, nanos, False).usd) == nanos
