"""Sticky assignment: deterministic, monotonic as the weight grows, and the candidate's share matches its weight."""

from __future__ import annotations

import dataclasses
import hashlib
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict

from keel.rollout.assign import BUCKETS, assign, bucket, sticky_key
from keel.rollout.machine import RolloutState, start
from tests.rollout.factories import T0, make_config

STATE = start(make_config(), "support-bot", "gpt-4o", "gpt-4o-mini", T0, rollout_id="ro_3f9a1c2b")
WEIGHTS = st.integers(0, BUCKETS).map(lambda b: b / 100)  # every weight the 0.01% resolution allows


def _at(weight: float, state: RolloutState = STATE) -> RolloutState:
    return dataclasses.replace(state, weight=weight)


@given(st.text(), st.text(min_size=1), WEIGHTS, WEIGHTS)
def test_a_caller_on_the_candidate_stays_there_as_the_weight_grows(
    rollout_id: str, key: str, first: float, second: float
) -> None:
    low, high = sorted((first, second))
    state = _at(low, dataclasses.replace(STATE, rollout_id=rollout_id))
    if assign(state, key, "req-1") == "candidate":
        assert assign(_at(high, state), key, "req-2") == "candidate"


@given(st.text(min_size=1), WEIGHTS, st.text(), st.text())
def test_a_sticky_key_decides_alone_and_the_same_way_every_time(
    key: str, weight: float, request_a: str, request_b: str
) -> None:
    assert assign(_at(weight), key, request_a) == assign(_at(weight), key, request_b)
    assert (assign(_at(weight), key, request_a) == "candidate") == (bucket(STATE.rollout_id, key) < weight * 100)


@given(st.text())
def test_no_traffic_at_0_and_all_of_it_at_100(key: str) -> None:
    assert assign(_at(0), key, "r") == "live"
    assert assign(_at(100), key, "r") == "candidate"


def test_buckets_are_stable_across_processes() -> None:
    # Pinned values: Python's own hash() would change with PYTHONHASHSEED; blake2b of (id, key) does not.
    assert [bucket("ro_3f9a1c2b", f"user-{i}") for i in range(3)] == [8037, 7680, 512]
    digest = hashlib.blake2b(b"ro_3f9a1c2b\0user-0", digest_size=8).digest()
    assert bucket("ro_3f9a1c2b", "user-0") == int.from_bytes(digest, "big") % BUCKETS
    assert 0 <= bucket("ro_3f9a1c2b", "\ud800 lone surrogate") < BUCKETS, "keys that are not valid UTF-8 still hash"


@pytest.mark.parametrize("weight", [1, 5, 25, 50])
def test_the_candidate_share_over_100k_callers_matches_the_weight(weight: float) -> None:
    n, state = 100_000, _at(weight)
    share = sum(assign(state, f"user-{i}", "req") == "candidate" for i in range(n)) / n
    p = weight / 100
    assert abs(share - p) < 0.01
    # Tighter: within four binomial standard deviations, which a uniform hash meets (the keys are fixed).
    assert abs(share - p) < 4 * math.sqrt(p * (1 - p) / n)


def test_without_a_sticky_key_each_request_is_drawn_on_its_own() -> None:
    sides = {assign(_at(50), None, f"req-{i}") for i in range(64)}
    assert sides == {"live", "candidate"}
    assert assign(_at(50), None, "req-7") == assign(_at(50), "req-7", "ignored")
    assert assign(_at(50), "", "req-7") == assign(_at(50), None, "req-7"), "an empty key is no key"


def test_a_new_rollout_draws_a_fresh_set_of_callers() -> None:
    other = dataclasses.replace(STATE, rollout_id="ro_other")
    users = [f"user-{i}" for i in range(2000)]
    here = {u for u in users if assign(_at(50), u, "r") == "candidate"}
    there = {u for u in users if assign(_at(50, other), u, "r") == "candidate"}
    assert here != there and 0.4 < len(here & there) / len(here) < 0.6


def test_sticky_keys_come_from_where_the_config_says() -> None:
    headers = CIMultiDict({"X-Session-Id": "sess-1", "X-Tenant": "acme"})
    assert sticky_key(make_config(), "alice", headers) == "alice"
    assert sticky_key(make_config(), "", headers) is None
    assert sticky_key(make_config(), {"not": "a string"}, headers) is None
    assert sticky_key(make_config(sticky="session"), "alice", headers) == "sess-1"
    assert sticky_key(make_config(sticky="header:x-tenant"), "alice", headers) == "acme"
    assert sticky_key(make_config(sticky="header:X-Missing"), "alice", headers) is None
    assert sticky_key(make_config(sticky="none"), "alice", headers) is None
