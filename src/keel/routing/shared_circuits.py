"""Circuit breakers shared between replicas through the hot store.

Each replica keeps its own breakers (the request path never waits on the network for them). When a
circuit opens or closes here, the change is written to the ``circuits`` board of the hot store as
``<phase>:<wall-clock time>:<replica>``; every ``every_s`` each replica reads the board and adopts the
changes of the others: a circuit opened elsewhere opens here for what is left of its cooldown, and a
circuit another replica's probe closed closes here. So one replica's failures protect them all, and a
deployment that recovered is used again everywhere after one successful probe.

With the in-process hot store there is one replica per store and nothing to share. While Redis is
down the board is local (see ``FailoverHotStore``) and replicas fall back to their own breakers.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass

from keel.core.clock import Clock
from keel.hot.store import HotStore
from keel.routing.circuit import CircuitBreakers, Phase

log = logging.getLogger("keel.routing")

BOARD = "circuits"
BOARD_TTL_S = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class Change:
    phase: Phase
    at: float  # wall-clock seconds
    replica: str

    def encode(self) -> str:
        return f"{self.phase}:{self.at!r}:{self.replica}"

    @classmethod
    def decode(cls, text: str) -> Change | None:
        phase, _, rest = text.partition(":")
        at, _, replica = rest.partition(":")
        if phase not in ("open", "closed") or not replica:
            return None
        try:
            return cls(phase, float(at), replica)  # type: ignore[arg-type]
        except ValueError:
            return None


class CircuitSync:
    def __init__(
        self, breakers: CircuitBreakers, store: HotStore, clock: Clock, *, every_s: float = 0.5, replica: str = ""
    ) -> None:
        self._breakers = breakers
        self._store = store
        self._clock = clock
        self._every_s = every_s
        self.replica = replica or secrets.token_hex(4)
        self._seen: dict[str, str] = {}
        self._pending: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        breakers.on_transition = self._publish

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="keel-circuit-sync")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await asyncio.gather(*self._pending, *([self._task] if self._task else []), return_exceptions=True)

    async def sync(self) -> None:
        """Adopt the changes other replicas wrote since the last read."""
        board = await self._store.board_read(BOARD)
        wall, mono = self._clock.now(), self._clock.monotonic()
        for name, value in board.items():
            if self._seen.get(name) == value:
                continue
            self._seen[name] = value
            change = Change.decode(value)
            if change is None or change.replica == self.replica:
                continue
            if change.phase == "closed":
                self._breakers.adopt_closed(name)
                continue
            age = max(0.0, wall - change.at)
            if age < self._breakers.config(name).cooldown_s:
                self._breakers.adopt_open(name, mono - age)

    def _publish(self, name: str, phase: Phase) -> None:
        value = Change(phase, self._clock.now(), self.replica).encode()
        self._seen[name] = value
        try:
            task = asyncio.get_running_loop().create_task(self._write(name, value))
        except RuntimeError:  # no loop (a synchronous caller): nothing to share with
            return
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _write(self, name: str, value: str) -> None:
        try:
            await self._store.board_put(BOARD, name, value, BOARD_TTL_S)
        except Exception as error:  # the closed policy's 503 or a bug: sharing is best effort
            log.warning("cannot share the circuit of %s: %s", name, error)

    async def _loop(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self._every_s)
            try:
                await self.sync()
            except Exception as error:
                if not failing:
                    log.warning("cannot read shared circuit states (%s); using this replica's own", error)
                failing = True
                continue
            failing = False
