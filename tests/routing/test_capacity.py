"""Provisioned capacity: the one-minute window, concurrency, token correction, and spillover order."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from keel.config.resilience import Capacity
from keel.routing.capacity import CapacityTracker, spillover_order
from tests.routing.manual_clock import ManualClock


def tracker(capacities: dict[str, Capacity], clock: ManualClock | None = None) -> CapacityTracker:
    return CapacityTracker(capacities.get, clock or ManualClock())


def test_without_capacity_there_is_always_room() -> None:
    capacities = tracker({})
    for _ in range(1000):
        capacities.acquire("payg", 10_000)
    assert capacities.has_room("payg", 10**9)
    assert capacities.usage("payg") == (1000, 10_000_000, 1000)
    assert capacities.usage("never-seen") == (0, 0, 0)


def test_requests_per_minute_slide_out_of_the_window() -> None:
    clock = ManualClock()
    capacities = tracker({"ptu": Capacity(rpm=3)}, clock)
    for _ in range(3):
        capacities.acquire("ptu", 0)
        capacities.release("ptu", 0, 0)
    assert not capacities.has_room("ptu", 0)
    clock.advance(59.5)
    assert not capacities.has_room("ptu", 0)
    assert capacities.usage("ptu") == (3, 0, 0)
    clock.advance(0.5)
    assert capacities.has_room("ptu", 0)
    assert capacities.usage("ptu") == (0, 0, 0)


def test_the_window_slides_second_by_second() -> None:
    clock = ManualClock()
    capacities = tracker({"ptu": Capacity(rpm=10)}, clock)
    for _ in range(5):
        capacities.acquire("ptu", 0)
        clock.advance(20.0)
    # Started at +0, +20, +40, +60, +80; now is +100, a minute after +40, so +60 and +80 count.
    assert capacities.usage("ptu")[0] == 2
    clock.advance(19.5)
    assert capacities.usage("ptu")[0] == 2
    clock.advance(0.5)
    assert capacities.usage("ptu")[0] == 1


def test_tokens_per_minute_count_estimates_while_running() -> None:
    capacities = tracker({"ptu": Capacity(tpm=1000)})
    capacities.acquire("ptu", 600)
    assert capacities.has_room("ptu", 400)
    assert not capacities.has_room("ptu", 401)
    assert capacities.usage("ptu") == (1, 600, 1)


def test_release_corrects_to_the_actual_tokens() -> None:
    clock = ManualClock()
    capacities = tracker({"ptu": Capacity(tpm=1000)}, clock)
    capacities.acquire("ptu", 600)
    clock.advance(30.0)
    capacities.release("ptu", 100, 600)
    assert capacities.usage("ptu") == (1, 100, 0)
    assert capacities.has_room("ptu", 900)
    capacities.acquire("ptu", 50)
    capacities.release("ptu", 2000, 50)
    assert capacities.usage("ptu") == (2, 2100, 0)
    assert not capacities.has_room("ptu", 0)


def test_without_an_actual_count_the_estimate_stands() -> None:
    capacities = tracker({"ptu": Capacity(tpm=1000)})
    capacities.acquire("ptu", 700)
    capacities.release("ptu", None, 700)
    assert capacities.usage("ptu") == (1, 700, 0)


def test_tokens_count_for_a_minute_after_the_request_ended() -> None:
    clock = ManualClock()
    capacities = tracker({"ptu": Capacity(tpm=1000)}, clock)
    capacities.acquire("ptu", 500)
    clock.advance(45.0)
    capacities.release("ptu", 800, 500)
    clock.advance(59.0)
    assert capacities.usage("ptu") == (0, 800, 0)
    clock.advance(1.0)
    assert capacities.usage("ptu") == (0, 0, 0)


def test_concurrency_counts_requests_in_flight() -> None:
    capacities = tracker({"ptu": Capacity(concurrency=2)})
    capacities.acquire("ptu", 1)
    capacities.acquire("ptu", 1)
    assert not capacities.has_room("ptu", 1)
    capacities.release("ptu", 1, 1)
    assert capacities.has_room("ptu", 1)
    assert capacities.usage("ptu") == (2, 2, 1)


def test_extra_releases_do_not_make_room_out_of_nothing() -> None:
    capacities = tracker({"ptu": Capacity(concurrency=1, tpm=100)})
    capacities.release("ptu", None, 50)
    capacities.release("ptu", None, 50)
    assert capacities.usage("ptu")[2] == 0
    capacities.acquire("ptu", 0)
    assert not capacities.has_room("ptu", 0)


def test_capacity_is_read_on_every_call() -> None:
    limits = {"ptu": Capacity(rpm=1)}
    capacities = tracker(limits)
    capacities.acquire("ptu", 0)
    assert not capacities.has_room("ptu", 0)
    limits["ptu"] = Capacity(rpm=2)
    assert capacities.has_room("ptu", 0)
    del limits["ptu"]
    assert capacities.has_room("ptu", 0)


def test_spillover_example() -> None:
    provisioned = {"ptu-east", "ptu-west"}
    room = {"ptu-west"}
    out = spillover_order(["ptu-east", "payg-1", "ptu-west", "payg-2"], provisioned.__contains__, room.__contains__)
    assert out == ["ptu-west", "payg-1", "payg-2", "ptu-east"]


@settings(max_examples=200)
@given(st.lists(st.text(max_size=5), unique=True, max_size=10), st.data())
def test_spillover_is_a_grouped_stable_permutation(ordered: list[str], data: st.DataObject) -> None:
    provisioned = data.draw(st.sets(st.sampled_from(ordered))) if ordered else set()
    room = data.draw(st.sets(st.sampled_from(ordered))) if ordered else set()
    out = spillover_order(ordered, provisioned.__contains__, room.__contains__)
    assert sorted(out) == sorted(ordered)

    def group(name: str) -> int:
        if name not in provisioned:
            return 1
        return 0 if name in room else 2

    assert [group(n) for n in out] == sorted(group(n) for n in out)
    for g in (0, 1, 2):
        assert [n for n in out if group(n) == g] == [n for n in ordered if group(n) == g]
