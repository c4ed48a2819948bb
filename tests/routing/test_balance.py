"""Ordering a pool: every order is a permutation, and the random ones follow the weights they claim."""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chisquare

from keel.routing.balance import (
    Candidate,
    order,
    order_latency,
    order_least_busy,
    order_priority,
    order_sticky,
    order_weighted,
)

P_MIN = 1e-4
"""Goodness-of-fit threshold: a correct implementation fails this once in ten thousand seeds; the seeds
are fixed, so these tests are deterministic."""

STRATEGIES = ("priority", "weighted", "least_busy", "latency")

candidates = st.lists(
    st.builds(
        Candidate,
        name=st.text(min_size=1, max_size=8),
        weight=st.floats(min_value=0.01, max_value=100),
        in_flight=st.integers(min_value=0, max_value=5),
        latency_s=st.none() | st.floats(min_value=0, max_value=10),
    ),
    max_size=8,
    unique_by=lambda c: c.name,
)


@st.composite
def pools(draw: st.DrawFn) -> tuple[list[Candidate], list[float]]:
    cands = draw(candidates)
    unit = st.floats(min_value=0, max_value=1, exclude_max=True)
    draws = draw(st.lists(unit, min_size=len(cands), max_size=len(cands) + 2))
    return cands, draws


def names(cands: Sequence[Candidate]) -> list[str]:
    return [c.name for c in cands]


def latency_rank(c: Candidate) -> float:
    return -math.inf if c.latency_s is None else c.latency_s


@settings(max_examples=100)
@given(pools(), st.text(max_size=10))
def test_every_order_is_a_permutation(pool: tuple[list[Candidate], list[float]], key: str) -> None:
    cands, draws = pool
    expected = sorted(names(cands))
    assert order_priority(cands) == names(cands)
    for out in (
        order_weighted(cands, draws),
        order_least_busy(cands, draws),
        order_latency(cands, draws),
        order_sticky(cands, key),
        *(order(s, cands, draws, None) for s in STRATEGIES),
    ):
        assert sorted(out) == expected


@settings(max_examples=100)
@given(pools())
def test_least_busy_is_ascending_in_flight(pool: tuple[list[Candidate], list[float]]) -> None:
    cands, draws = pool
    by_name = {c.name: c for c in cands}
    loads = [by_name[n].in_flight for n in order_least_busy(cands, draws)]
    assert loads == sorted(loads)


@settings(max_examples=100)
@given(pools())
def test_latency_puts_the_better_of_the_sampled_two_first(pool: tuple[list[Candidate], list[float]]) -> None:
    cands, draws = pool
    out = order_latency(cands, draws)
    if len(cands) < 2:
        return
    by_name = {c.name: c for c in cands}
    pair = order_weighted(cands, draws)[:2]
    assert out[0] in pair
    assert latency_rank(by_name[out[0]]) == min(latency_rank(by_name[n]) for n in pair)
    rest = [latency_rank(by_name[n]) for n in out[1:]]
    assert rest == sorted(rest)


@settings(max_examples=100)
@given(candidates, st.text(max_size=10), st.randoms(use_true_random=False))
def test_sticky_is_deterministic_and_ignores_listing_order(
    cands: list[Candidate], key: str, rnd: random.Random
) -> None:
    shuffled = list(cands)
    rnd.shuffle(shuffled)
    assert order_sticky(cands, key) == order_sticky(cands, key) == order_sticky(shuffled, key)


@settings(max_examples=100)
@given(candidates.filter(lambda cs: len(cs) >= 2), st.text(max_size=10), st.data())
def test_removing_a_candidate_only_moves_its_own_keys(cands: list[Candidate], key: str, data: st.DataObject) -> None:
    gone = data.draw(st.sampled_from(names(cands)))
    before = order_sticky(cands, key)
    after = order_sticky([c for c in cands if c.name != gone], key)
    # Stronger than the first choice: the whole failover order is unchanged apart from the removed name.
    assert after == [n for n in before if n != gone]


def test_sticky_removal_over_many_keys() -> None:
    cands = [Candidate(f"d{i}", weight=w) for i, w in enumerate([1.0, 2.0, 3.0, 1.5])]
    keys = [f"user-{i}" for i in range(4000)]
    before = {k: order_sticky(cands, k)[0] for k in keys}
    after = {k: order_sticky(cands[:2] + cands[3:], k)[0] for k in keys}
    moved = {k for k in keys if before[k] != after[k]}
    assert moved == {k for k in keys if before[k] == "d2"}
    assert len(moved) > 0


def assert_fits(observed: Counter[str], probs: dict[str, float]) -> None:
    total = sum(observed.values())
    assert set(observed) <= set(probs)
    # An outcome that cannot happen must not happen; it has no place in the chi-square sum.
    assert all(observed[k] == 0 for k, p in probs.items() if p == 0)
    labels = sorted(k for k, p in probs.items() if p > 0)
    result = chisquare([observed[k] for k in labels], [total * probs[k] for k in labels])
    assert result.pvalue > P_MIN, (observed, probs)


WEIGHTS = {"a": 1.0, "b": 2.0, "c": 3.0, "d": 0.5}
POOL = [Candidate(n, weight=w) for n, w in WEIGHTS.items()]
SHARES = {n: w / sum(WEIGHTS.values()) for n, w in WEIGHTS.items()}


def test_weighted_first_choice_follows_weights() -> None:
    rnd = random.Random(7)
    firsts = Counter(order_weighted(POOL, [rnd.random() for _ in POOL])[0] for _ in range(20_000))
    assert_fits(firsts, SHARES)


def test_weighted_whole_order_follows_sampling_without_replacement() -> None:
    pool = POOL[:3]
    total = sum(c.weight for c in pool)
    probs: dict[str, float] = {}
    for perm in itertools.permutations(pool):
        first, second, _ = perm
        probs["".join(c.name for c in perm)] = first.weight / total * second.weight / (total - first.weight)
    rnd = random.Random(11)
    seen = Counter("".join(order_weighted(pool, [rnd.random() for _ in pool])) for _ in range(30_000))
    assert_fits(seen, probs)


def test_sticky_spreads_keys_by_weight() -> None:
    firsts = Counter(order_sticky(POOL, f"user-{i}")[0] for i in range(20_000))
    assert_fits(firsts, SHARES)


def test_latency_first_choice_matches_power_of_two_choices() -> None:
    pool = [
        Candidate("fast", weight=1.0, latency_s=0.1),
        Candidate("mid", weight=3.0, latency_s=0.5),
        Candidate("slow", weight=2.0, latency_s=2.0),
        Candidate("new", weight=1.0, latency_s=None),
    ]
    rank = {c.name: latency_rank(c) for c in pool}
    total = sum(c.weight for c in pool)
    probs = dict.fromkeys(rank, 0.0)
    for a, b in itertools.permutations(pool, 2):
        better = a if rank[a.name] <= rank[b.name] else b
        probs[better.name] += a.weight / total * b.weight / (total - a.weight)
    rnd = random.Random(3)
    firsts = Counter(order_latency(pool, [rnd.random() for _ in pool])[0] for _ in range(20_000))
    assert probs["slow"] == 0
    assert_fits(firsts, probs)


def test_least_busy_breaks_ties_by_weight() -> None:
    pool = [
        Candidate("a", weight=1.0, in_flight=2),
        Candidate("b", weight=3.0, in_flight=2),
        Candidate("c", in_flight=9),
    ]
    rnd = random.Random(5)
    firsts = Counter(order_least_busy(pool, [rnd.random() for _ in pool])[0] for _ in range(10_000))
    assert_fits(firsts, {"a": 0.25, "b": 0.75, "c": 0.0})


def test_order_dispatches_and_a_sticky_key_wins() -> None:
    draws = [0.3, 0.9, 0.1, 0.5]
    for strategy in STRATEGIES:
        assert order(strategy, POOL, draws, "user-1") == order_sticky(POOL, "user-1")
    assert order("priority", POOL, draws, None) == names(POOL)
    assert order("weighted", POOL, draws, None) == order_weighted(POOL, draws)
    assert order("least_busy", POOL, draws, None) == order_least_busy(POOL, draws)
    assert order("latency", POOL, draws, None) == order_latency(POOL, draws)


def test_unknown_strategy_and_missing_draws_are_errors() -> None:
    with pytest.raises(ValueError, match="unknown strategy"):
        order("fastest", POOL, [0.1] * 4, None)
    with pytest.raises(ValueError, match="draws"):
        order_weighted(POOL, [0.1, 0.2])


def test_weightless_candidates_come_last() -> None:
    pool = [Candidate("off", weight=0.0), Candidate("on", weight=1.0), Candidate("nan", weight=math.nan)]
    for draws in ([0.99, 0.01, 0.5], [0.0, 0.0, 0.0], [0.5, 0.5, 0.5]):
        assert order_weighted(pool, draws)[0] == "on"
    assert order_sticky(pool, "k")[0] == "on"
