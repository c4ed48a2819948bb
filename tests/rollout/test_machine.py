"""The phase machine: each rule on its own, then properties over arbitrary sequences of analyses and actions."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.rollout.analysis import Verdict
from keel.rollout.machine import RolloutError, RolloutState, abort, on_analysis, pause, resume, start
from tests.rollout.factories import T0, make_config, verdict

CONFIG = make_config(step_interval_s=300, analysis_interval_s=60, max_failed_checks=3)


def _started() -> RolloutState:
    return start(CONFIG, "support-bot", "gpt-4o", "gpt-4o-mini", T0)


def _at_first_step() -> RolloutState:
    return on_analysis(_started(), CONFIG, verdict("no_data"), T0 + 60)


def test_start_is_pending_with_no_traffic() -> None:
    state = _started()
    assert (state.phase, state.weight, state.step_index, state.failed_checks) == ("pending", 0.0, 0, 0)
    assert [(e.kind, e.ts) for e in state.history] == [("created", T0)]
    assert "gpt-4o-mini" in state.history[0].detail and "1%, 5%, 25%, 50%, 100%" in state.history[0].detail
    assert state.rollout_id == _started().rollout_id, "the id is a pure function of its inputs"
    assert start(CONFIG, "bot", "a", "gpt-4o-mini", T0, rollout_id="ro_x").rollout_id == "ro_x"


def test_start_refuses_a_candidate_the_config_does_not_name_or_that_is_already_live() -> None:
    with pytest.raises(RolloutError, match="configured to roll out 'gpt-4o-mini', not 'other'"):
        start(CONFIG, "bot", "gpt-4o", "other", T0)
    with pytest.raises(RolloutError, match="already the live deployment"):
        start(CONFIG, "bot", "gpt-4o-mini", "gpt-4o-mini", T0)


def test_the_first_analysis_enters_the_first_step_whatever_it_says() -> None:
    state = _at_first_step()
    assert (state.phase, state.weight, state.step_index, state.step_started_at) == ("progressing", 1, 0, T0 + 60)
    assert state.history[-1].detail == "step 1 of 5: 1% of traffic"


def test_passing_analyses_advance_only_after_the_step_interval() -> None:
    state = _at_first_step()
    for minute in (2, 3, 4, 5):
        after = on_analysis(state, CONFIG, verdict("pass"), T0 + 60 * minute)
        assert after is state, "a pass before the interval has elapsed changes nothing"
    state = on_analysis(state, CONFIG, verdict("pass"), T0 + 360)
    assert (state.weight, state.step_index, state.step_started_at) == (5, 1, T0 + 360)
    assert state.history[-1].detail == "step 2 of 5: 5% of traffic"


def test_passing_every_step_promotes_after_the_last_interval_at_100() -> None:
    state, now = _at_first_step(), T0 + 60
    weights = [state.weight]
    while state.phase != "promoted":
        now += 300
        state = on_analysis(state, CONFIG, verdict("pass"), now)
        weights.append(state.weight)
    assert weights == [1, 5, 25, 50, 100, 100]
    assert state.history[-1].detail == "promoted: gpt-4o-mini serves all traffic of route support-bot"
    assert now == T0 + 60 + 5 * 300


def test_failed_analyses_count_up_and_roll_back_at_the_limit() -> None:
    state = _at_first_step()
    state = on_analysis(state, CONFIG, verdict("fail"), T0 + 120)
    state = on_analysis(state, CONFIG, verdict("fail"), T0 + 180)
    assert (state.phase, state.failed_checks, state.weight) == ("progressing", 2, 1)
    assert state.history[-1].detail == "check error_rate failed: 0.2 > 0.05 (2 of 3)"
    state = on_analysis(state, CONFIG, verdict("fail"), T0 + 240)
    assert (state.phase, state.failed_checks, state.weight) == ("rolled_back", 3, 0)
    assert [e.kind for e in state.history[-2:]] == ["check_failed", "rolled_back"]
    assert state.history[-1].detail == (
        "rolled back at 1% after 3 failed analyses in a row; all traffic to live gpt-4o"
    )


def test_a_pass_resets_the_failure_count_and_does_not_advance_early() -> None:
    state = _at_first_step()
    state = on_analysis(state, CONFIG, verdict("fail"), T0 + 120)
    state = on_analysis(state, CONFIG, verdict("fail"), T0 + 180)
    state = on_analysis(state, CONFIG, verdict("pass"), T0 + 240)
    assert (state.failed_checks, state.weight, state.history[-1].kind) == (0, 1, "checks_passed")
    assert "reset (was 2)" in state.history[-1].detail
    state = on_analysis(state, CONFIG, verdict("fail"), T0 + 300)
    assert (state.phase, state.failed_checks) == ("progressing", 1)


def test_no_data_halts_at_the_current_weight_and_never_advances() -> None:
    state = _at_first_step()
    state = on_analysis(state, CONFIG, verdict("no_data"), T0 + 120)
    assert (state.phase, state.weight, state.history[-1].kind) == ("halted", 1, "halted")
    assert state.history[-1].detail == "halted at 1%: not enough data: error_rate: candidate has 3 of 50 samples"
    for hour in range(1, 24):
        again = on_analysis(state, CONFIG, verdict("no_data"), T0 + 3600 * hour)
        assert again is state


def test_halted_resumes_when_data_arrives_and_passes() -> None:
    state = on_analysis(_at_first_step(), CONFIG, verdict("no_data"), T0 + 120)
    state = on_analysis(state, CONFIG, verdict("pass"), T0 + 180)
    assert (state.phase, state.weight, state.history[-1].kind) == ("progressing", 1, "resumed")
    # Time spent halted counted at this weight: the next pass after the interval advances.
    state = on_analysis(state, CONFIG, verdict("pass"), T0 + 360)
    assert state.weight == 5


def test_a_halted_rollout_can_resume_and_advance_in_one_analysis() -> None:
    state = on_analysis(_at_first_step(), CONFIG, verdict("no_data"), T0 + 120)
    state = on_analysis(state, CONFIG, verdict("pass"), T0 + 1000)
    assert [e.kind for e in state.history[-2:]] == ["resumed", "step"]
    assert (state.phase, state.weight) == ("progressing", 5)


def test_no_data_neither_breaks_nor_adds_to_a_failing_streak() -> None:
    state = _at_first_step()
    kinds: list[Verdict] = ["fail", "no_data", "fail", "no_data"]
    for i, kind in enumerate(kinds, start=2):
        state = on_analysis(state, CONFIG, verdict(kind), T0 + 60 * i)
    assert (state.phase, state.failed_checks) == ("halted", 2)
    state = on_analysis(state, CONFIG, verdict("fail"), T0 + 360)
    assert state.phase == "rolled_back"


def test_pause_freezes_the_weight_and_ignores_analyses_until_resumed() -> None:
    state = pause(_at_first_step(), T0 + 90, reason="watching a dashboard")
    assert (state.phase, state.weight, state.history[-1].detail) == ("paused", 1, "paused at 1%: watching a dashboard")
    for kind in ("pass", "fail", "no_data"):
        assert on_analysis(state, CONFIG, verdict(kind), T0 + 10_000) is state
    with pytest.raises(RolloutError, match="already paused"):
        pause(state, T0 + 100)
    state = resume(state, T0 + 500)
    assert (state.phase, state.history[-1].detail) == ("progressing", "resumed at 1%")
    assert on_analysis(state, CONFIG, verdict("pass"), T0 + 560).weight == 5


def test_resume_needs_a_paused_rollout_and_a_paused_pending_one_resumes_pending() -> None:
    with pytest.raises(RolloutError, match="is progressing, not paused"):
        resume(_at_first_step(), T0)
    state = resume(pause(_started(), T0 + 1), T0 + 2)
    assert (state.phase, state.weight) == ("pending", 0)


def test_abort_sends_everything_back_to_live_from_any_phase() -> None:
    halted = on_analysis(_at_first_step(), CONFIG, verdict("no_data"), T0 + 120)
    for state in (_started(), _at_first_step(), halted, pause(halted, T0 + 130)):
        aborted = abort(state, T0 + 200, reason="pager")
        assert (aborted.phase, aborted.weight) == ("aborted", 0)
        assert aborted.history[-1].detail.endswith(": pager; all traffic to live gpt-4o")


def _promoted() -> RolloutState:
    state, now = _at_first_step(), T0 + 60
    while not state.terminal:
        now += 300
        state = on_analysis(state, CONFIG, verdict("pass"), now)
    return state


@pytest.mark.parametrize(
    "final",
    [
        _promoted,
        lambda: abort(_started(), T0 + 1),
        lambda: on_analysis(
            on_analysis(
                on_analysis(_at_first_step(), CONFIG, verdict("fail"), T0 + 1), CONFIG, verdict("fail"), T0 + 2
            ),
            CONFIG,
            verdict("fail"),
            T0 + 3,
        ),
    ],
)
def test_final_phases_refuse_every_transition(final: Callable[[], RolloutState]) -> None:
    state = final()
    assert state.terminal
    phase = state.phase.replace("_", " ")
    actions: list[Callable[[], object]] = [
        lambda: on_analysis(state, CONFIG, verdict("pass"), T0 + 9999),
        lambda: pause(state, T0 + 9999),
        lambda: resume(state, T0 + 9999),
        lambda: abort(state, T0 + 9999),
    ]
    for action in actions:
        with pytest.raises(RolloutError, match=f"rollout {state.rollout_id}: it is {phase}"):
            action()


def test_a_config_edited_mid_rollout_moves_to_the_next_step_above_the_current_weight() -> None:
    state = on_analysis(_at_first_step(), CONFIG, verdict("pass"), T0 + 360)
    assert state.weight == 5
    edited = make_config(steps=[2, 10, 100])
    state = on_analysis(state, edited, verdict("pass"), T0 + 660)
    assert (state.weight, state.step_index, state.history[-1].detail) == (10, 1, "step 2 of 3: 10% of traffic")


def test_an_analysis_under_a_config_for_another_candidate_is_refused() -> None:
    other = make_config(candidate="claude-haiku")
    with pytest.raises(RolloutError, match="is of 'gpt-4o-mini' but route 'support-bot' now rolls out 'claude-haiku'"):
        on_analysis(_at_first_step(), other, verdict("pass"), T0 + 600)


# Properties: arbitrary interleavings of analyses and operator actions, one minute apart.
ACTIONS = st.lists(st.sampled_from(["pass", "fail", "no_data", "pause", "resume", "abort"]), min_size=1, max_size=60)


def _apply(state: RolloutState, action: str, now: float) -> RolloutState:
    if action == "pause":
        return pause(state, now)
    if action == "resume":
        return resume(state, now)
    if action == "abort":
        return abort(state, now)
    return on_analysis(state, CONFIG, verdict(cast(Verdict, action)), now)


@given(ACTIONS)
def test_invariants_hold_over_any_sequence(actions: list[str]) -> None:
    state = _started()
    streak = 0  # an independent count of failed analyses in a row (no data and pauses leave it alone)
    passes_applied = 0
    for minute, action in enumerate(actions, start=1):
        now = T0 + 60 * minute
        before = state
        try:
            state = _apply(state, action, now)
        except RolloutError:
            # Only refusals the rules allow: a final phase, pausing twice, resuming what is not paused.
            assert before.terminal or (action, before.phase == "paused") in {("pause", True), ("resume", False)}
            continue
        analysed = action in ("pass", "fail", "no_data") and before.phase not in ("paused", "pending")
        if analysed and action == "fail":
            streak += 1
        elif analysed and action == "pass":
            streak, passes_applied = 0, passes_applied + 1

        assert (state is before) == (state.version == before.version), "a change always appends history"
        assert all(e.ts == now for e in state.history[before.version :])
        assert state.weight in {0.0, *CONFIG.steps}
        if not state.terminal:
            assert state.weight >= before.weight, "the weight only grows until the rollout ends"
        assert state.failed_checks == streak
        assert (state.phase == "rolled_back") == (streak >= CONFIG.max_failed_checks)
        if state.phase in ("rolled_back", "aborted", "pending"):
            assert state.weight == 0
        entered = [
            float(e.detail.split(": ")[1].removesuffix("% of traffic")) for e in state.history if e.kind == "step"
        ]
        assert entered == list(CONFIG.steps[: len(entered)]), "steps are entered in order, none skipped"
        if passes_applied == 0:
            assert state.weight <= CONFIG.steps[0], "nothing but a passing analysis moves past the first step"
        if state.phase == "promoted":
            assert action == "pass" and entered == list(CONFIG.steps)


@given(st.lists(st.sampled_from(["no_data", "pause", "resume"]), min_size=1, max_size=80))
def test_without_data_a_rollout_is_never_promoted(actions: list[str]) -> None:
    state = _started()
    for minute, action in enumerate(actions, start=1):
        try:
            state = _apply(state, action, T0 + 3600 * minute)
        except RolloutError:
            continue
        assert state.phase != "promoted" and state.weight <= CONFIG.steps[0]
