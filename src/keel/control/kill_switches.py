"""Kill switches: stop a route, a deployment, a provider, a key or everything, from the next request.

A switch says what happens instead: ``refuse`` (a 503 with the operator's message) or ``safe_mode``
(the route's degraded path). Switches are durable records (who, why, when; and who cleared them);
every process keeps the active ones in memory and reloads them every ``refresh_s``. A switch set
through a process's own admin API applies there at once, and a change marker in the hot store (see
``kill_signal.py``) makes every other process reload within a fraction of a second.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from typing import Literal, Protocol

from keel.control.kill_signal import KillSignal, KillWatch
from keel.core.refresher import Refresher

log = logging.getLogger("keel.control")

Scope = Literal["global", "route", "deployment", "provider", "key"]
Action = Literal["refuse", "safe_mode"]
SCOPES: tuple[Scope, ...] = ("global", "route", "deployment", "provider", "key")
ACTIONS: tuple[Action, ...] = ("refuse", "safe_mode")


@dataclass(frozen=True, slots=True)
class KillSwitch:
    switch_id: str
    scope: Scope
    target: str  # "*" for global
    action: Action
    reason: str
    actor: str
    created_at: float
    message: str | None = None
    cleared_at: float | None = None
    cleared_by: str | None = None
    cleared_reason: str | None = None

    def describe(self) -> str:
        what = "everything" if self.scope == "global" else f"{self.scope} {self.target!r}"
        return f"{what} is switched off by {self.actor}: {self.message or self.reason}"


class KillSwitchStore(Protocol):
    async def add(self, switch: KillSwitch) -> None: ...

    async def active(self) -> list[KillSwitch]: ...

    async def clear(self, scope: Scope, target: str, actor: str, reason: str, at: float) -> int:
        """Clear the active switches on this scope and target; how many were cleared."""
        ...

    async def history(self, limit: int = 100) -> list[KillSwitch]: ...


def new_switch(
    scope: Scope, target: str, action: Action, reason: str, actor: str, message: str | None = None
) -> KillSwitch:
    return KillSwitch(
        switch_id=f"ks_{secrets.token_hex(6)}",
        scope=scope,
        target="*" if scope == "global" else target,
        action=action,
        reason=reason,
        actor=actor,
        created_at=time.time(),
        message=message,
    )


class KillBoard:
    """The active switches, indexed for the request path: one dict lookup per check."""

    def __init__(self, store: KillSwitchStore, refresh_s: float = 1.0, signal: KillSignal | None = None) -> None:
        self._store = store
        self._signal = signal
        self._watch = KillWatch(signal, self.refresh) if signal is not None else None
        self._active: dict[tuple[str, str], KillSwitch] = {}
        self._version = 0  # bumped by every set and clear through this board
        self._refresher = Refresher(self.refresh, refresh_s, "kill switches", log)

    async def start(self) -> None:
        await self._refresher.start()
        if self._watch is not None:
            await self._watch.start()

    async def aclose(self) -> None:
        if self._watch is not None:
            await self._watch.aclose()
        await self._refresher.aclose()

    async def refresh(self) -> None:
        # A set or clear through this board while the read was in flight would be undone by the
        # older read: read again until no change happened meanwhile.
        while True:
            version = self._version
            active = await self._store.active()
            if version == self._version:
                self._active = {(s.scope, s.target): s for s in active}
                return

    def lookup(self, scope: Scope, target: str) -> KillSwitch | None:
        if not self._active:
            return None
        return self._active.get((scope, target))

    def for_request(self, key_id: str | None) -> KillSwitch | None:
        """A switch on everything or on the caller's key."""
        if not self._active:
            return None
        found = self._active.get(("global", "*"))
        if found is None and key_id is not None:
            found = self._active.get(("key", key_id))
        return found

    def active(self) -> list[KillSwitch]:
        return list(self._active.values())

    async def set(self, switch: KillSwitch) -> None:
        await self._store.add(switch)
        self._version += 1
        self._active[(switch.scope, switch.target)] = switch
        log.warning("kill switch set: %s (%s)", switch.describe(), switch.action)
        if self._signal is not None:
            await self._signal.changed()

    async def clear(self, scope: Scope, target: str, actor: str, reason: str) -> int:
        target = "*" if scope == "global" else target
        cleared = await self._store.clear(scope, target, actor, reason, time.time())
        self._version += 1
        if self._active.pop((scope, target), None) is not None or cleared:
            log.warning("kill switch cleared: %s %r by %s: %s", scope, target, actor, reason)
        if self._signal is not None:
            await self._signal.changed()
        return cleared
