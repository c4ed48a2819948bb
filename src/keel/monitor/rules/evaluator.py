"""Evaluate the alert rules every ``evaluate_every_s``, once across all replicas, and notify on changes.

Each tick (``now // every``) is claimed with a hot-store flag: the one replica that sets it evaluates;
the others skip. Rule states live on the hot store's ``alert-rules`` board, so whichever replica
evaluates next continues from them, and a fire or resolve is sent exactly once. With the in-process hot
store there is one replica and it always evaluates.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Sequence

import orjson

from keel.core.clock import Clock
from keel.hot.store import HotStore
from keel.monitor.alerts import WebhookNotifier
from keel.monitor.rules.config import AlertRule
from keel.monitor.rules.machine import RuleState, step
from keel.monitor.rules.signals import SqlSignals

log = logging.getLogger("keel.alerts")

BOARD = "alert-rules"
BOARD_TTL_S = 30 * 86400.0


class RuleEvaluator:
    def __init__(
        self,
        rules: Callable[[], Sequence[AlertRule]],
        every_s: Callable[[], float],
        signals: SqlSignals,
        store: HotStore,
        notifier: WebhookNotifier,
        clock: Clock,
    ) -> None:
        self._rules = rules
        self._every_s = every_s
        self._signals = signals
        self._store = store
        self._notifier = notifier
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="keel-alert-rules")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def tick(self) -> bool:
        """Evaluate now if this replica claims the current tick; whether it did."""
        rules = self._rules()
        if not rules:
            return False
        every = self._every_s()
        now = self._clock.now()
        if not await self._store.flag_set(f"alert-tick:{math.floor(now / every)}", 2 * every):
            return False
        board = await self._store.board_read(BOARD)
        for rule in rules:
            try:
                value = await self._signals.value(rule, now)
            except Exception as error:
                log.warning("alert rule %s: cannot read %s (%s)", rule.name, rule.signal, error)
                continue
            before = RuleState.from_json(orjson.loads(board[rule.name])) if rule.name in board else RuleState()
            after, event = step(before, rule, value, now)
            if after != before:
                await self._store.board_put(BOARD, rule.name, orjson.dumps(after.to_json()).decode(), BOARD_TTL_S)
            if event is not None and value is not None:
                self._send(rule, event, value, after)
        return True

    def _send(self, rule: AlertRule, event: str, value: float, state: RuleState) -> None:
        text = (
            f"[{rule.severity}] {rule.name} firing: {rule.describe(value)}"
            if event == "fire"
            else f"{rule.name} resolved: {rule.signal} is {value:.4g}"
        )
        self._notifier.notify(
            "alert_firing" if event == "fire" else "alert_resolved",
            text,
            rule=rule.name,
            signal=rule.signal,
            route=rule.route,
            value=value,
            severity=rule.severity,
            since=state.since,
        )

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._every_s())
            try:
                await self.tick()
            except Exception as error:  # the hot store or the database is away: try next tick
                log.warning("alert rules not evaluated this time: %s", error)
