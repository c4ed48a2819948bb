"""The rollout loop and the operator's actions: start, pause, resume and abort a route's rollout.

Each rollout is analysed on a grid of its own, at ``started_at + k * analysis_interval_s``, over the
requests that completed in the interval before that time, once the request log has had ``settle_s``
to catch up. The grid time, not the time the loop happened to wake, is what the phase machine is
given. Two replicas analysing the same rollout, or a process restarted mid-rollout, therefore compute
the same transition from the same stored state and the same logged traffic, and a grid time already
judged (one at or before the rollout's last event) is never judged again. A save that lost a race
(``RolloutConflict``) is skipped; the next pass reads the winner's state.

The loop wakes when the next analysis is due, and at least every ``interval()`` (the shortest
analysis interval of any route, and never more often than once a second) to find rollouts started
elsewhere. A rollout whose route no longer declares it (the rollout section was removed, or names
another candidate) is aborted: its steps and checks no longer describe it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from keel.config.runtime import RuntimeConfig
from keel.core.clock import Clock, SystemClock
from keel.rollout import machine
from keel.rollout.analysis import Window, WindowStats, analyse, windows
from keel.rollout.board import RolloutBoard
from keel.rollout.config import RolloutConfig
from keel.rollout.machine import RolloutError, RolloutState
from keel.rollout.store import RolloutConflict, RolloutStore

log = logging.getLogger("keel.rollout")

SETTLE_S = 2.0
"""How long after a grid time its window is read: the request log's writer flushes well within it."""
IDLE_INTERVAL_S = 60.0
"""How often the loop looks for rollouts to abort while no route declares one."""
ANNOUNCED = frozenset({"promoted", "rolled_back", "halted"})
"""Events of the loop that are sent to the alert webhooks."""
_SAVE_ATTEMPTS = 3


class Observer(Protocol):
    async def observe(
        self, state: RolloutState, live_deployments: Sequence[str], live: Window, candidate: Window
    ) -> tuple[WindowStats, WindowStats]: ...


class Notifier(Protocol):
    def notify(self, kind: str, text: str, **fields: Any) -> None: ...


class RolloutService:
    def __init__(
        self,
        store: RolloutStore,
        observer: Observer,
        config: Callable[[], RuntimeConfig],
        *,
        notifier: Notifier | None = None,
        board: RolloutBoard | None = None,
        clock: Clock | None = None,
        settle_s: float = SETTLE_S,
    ) -> None:
        self._store = store
        self._observer = observer
        self._config = config
        self._notifier = notifier
        self._board = board
        self._clock = clock or SystemClock()
        self._settle_s = settle_s
        self._wake_at = 0.0  # the first pass runs at once: it finds the due times
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Run the analysis loop in the background."""
        self._task = asyncio.create_task(self._loop(), name="keel-rollouts")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def interval(self) -> float:
        """The longest the loop sleeps: the shortest analysis interval of any route, at least a second."""
        routes = self._config().routes.values()
        intervals = [r.config.rollout.analysis_interval_s for r in routes if r.config.rollout is not None]
        return max(1.0, min(intervals, default=IDLE_INTERVAL_S))

    async def analyse_due(self) -> list[RolloutState]:
        """One pass over the active rollouts; the states that changed, as saved."""
        now = self._clock.now()
        config = self._config()
        changed: list[RolloutState] = []
        wake_at = now + self.interval()
        for state in await self._store.active():
            try:
                new = await self._advance(state, config, now)
            except RolloutConflict as error:
                log.info("rollout %s changed meanwhile; analysed again next time: %s", state.rollout_id, error)
                continue
            if new is not state:
                changed.append(new)
            rollout = _declared(config, new)
            if rollout is not None and not new.terminal:
                wake_at = min(wake_at, self._next_due(new, rollout, now))
        self._wake_at = wake_at
        return changed

    async def start_rollout(self, route: str) -> RolloutState:
        """A new pending rollout of the candidate the route's config names."""
        config = self._config()
        found = config.routes.get(route)
        if found is None:
            raise RolloutError(f"no route named {route!r} in {config.source}")
        rollout = found.config.rollout
        if rollout is None:
            raise RolloutError(f"route {route!r} declares no rollout in {config.source}")
        live = ", ".join(found.config.deployments)
        # A random id: two starts at the same instant must not pass for one (saving it twice is a no-op).
        rollout_id = f"ro_{secrets.token_hex(8)}"
        state = machine.start(rollout, route, live, rollout.candidate, self._clock.now(), rollout_id=rollout_id)
        await self._save(state)
        log.warning("rollout %s of %s on route %s started", state.rollout_id, state.candidate, route)
        return state

    async def pause(self, route: str, reason: str = "") -> RolloutState:
        return await self._act(route, lambda state, now: machine.pause(state, now, reason))

    async def resume(self, route: str) -> RolloutState:
        return await self._act(route, machine.resume)

    async def abort(self, route: str, reason: str = "") -> RolloutState:
        return await self._act(route, lambda state, now: machine.abort(state, now, reason))

    async def _act(self, route: str, change: Callable[[RolloutState, float], RolloutState]) -> RolloutState:
        attempt = 1
        while True:
            state = await self._store.active_for(route)
            if state is None:
                raise RolloutError(f"route {route!r} has no active rollout")
            new = change(state, self._clock.now())
            try:
                await self._save(new)
            except RolloutConflict:
                # The loop saved between our read and our write: read again.
                if attempt == _SAVE_ATTEMPTS:
                    raise
                attempt += 1
                continue
            log.warning("rollout %s on route %s: %s", new.rollout_id, route, new.history[-1].detail)
            return new

    async def _advance(self, state: RolloutState, config: RuntimeConfig, now: float) -> RolloutState:
        rollout = _declared(config, state)
        if rollout is None:
            route = config.routes.get(state.route)
            other = route.config.rollout if route is not None else None
            why = "no longer declares it" if other is None else f"now rolls out {other.candidate}"
            new = machine.abort(state, now, f"the config of route {state.route} {why}")
            await self._save(new)
            log.warning("rollout %s: %s", new.rollout_id, new.history[-1].detail)
            return new
        at = self._due(state, rollout, now)
        if at is None or state.phase == "paused":
            return state
        live_window, candidate_window = windows(rollout, state, at)
        live_deployments = config.routes[state.route].config.deployments
        live, candidate = await self._observer.observe(state, live_deployments, live_window, candidate_window)
        new = machine.on_analysis(state, rollout, analyse(rollout, live, candidate), at)
        if new is state:
            return state
        await self._save(new)
        self._announce(state, new)
        return new

    def _due(self, state: RolloutState, rollout: RolloutConfig, now: float) -> float | None:
        """The latest grid time whose window can be read now, unless it has been judged already."""
        periods = math.floor((now - self._settle_s - state.started_at) / rollout.analysis_interval_s)
        at = state.started_at + periods * rollout.analysis_interval_s
        return at if periods >= 1 and at > state.history[-1].ts else None

    def _next_due(self, state: RolloutState, rollout: RolloutConfig, now: float) -> float:
        """When the grid time after the latest one can be read."""
        periods = math.floor((now - self._settle_s - state.started_at) / rollout.analysis_interval_s)
        return state.started_at + (periods + 1) * rollout.analysis_interval_s + self._settle_s

    async def _save(self, state: RolloutState) -> None:
        await self._store.save(state)
        if self._board is not None:
            self._board.put(state)

    def _announce(self, old: RolloutState, new: RolloutState) -> None:
        for event in new.history[old.version :]:
            log.info("rollout %s on route %s: %s", new.rollout_id, new.route, event.detail)
            if event.kind in ANNOUNCED and self._notifier is not None:
                self._notifier.notify(
                    "rollout",
                    f"rollout of {new.candidate} on route {new.route}: {event.detail}",
                    rollout_id=new.rollout_id,
                    route=new.route,
                    candidate=new.candidate,
                    phase=new.phase,
                    weight=new.weight,
                    event=event.kind,
                )

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(max(0.0, self._wake_at - self._clock.now()))
            try:
                await self.analyse_due()
            except Exception as error:
                self._wake_at = self._clock.now() + self.interval()
                log.warning("rollout analysis failed (%s); trying again in %.0f s", error, self.interval())


def _declared(config: RuntimeConfig, state: RolloutState) -> RolloutConfig | None:
    """The route's rollout config, if it still declares this rollout's candidate."""
    route = config.routes.get(state.route)
    rollout = route.config.rollout if route is not None else None
    return rollout if rollout is not None and rollout.candidate == state.candidate else None
