"""Running a route's guards for one request: in order, each under a timeout, failing open or closed.

Guards of a stage run one after another, each on the body the previous one left (a redaction is seen
by the guards after it). The first block stops the stage. A guard that raises or exceeds
``timeout_ms`` gets a verdict with ``error`` set, and the route's ``on_error`` decides: ``closed`` turns
it into a block, ``open`` lets the request through. Every verdict is counted in Prometheus.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from keel.config.runtime import Route
from keel.core.errors import KeelError
from keel.guards.base import Action, Finding, Guard, GuardResources, GuardState, Json, Outcome, Stage, Verdict
from keel.guards.registry import ResolvedGuards
from keel.monitor.metrics import Metrics

log = logging.getLogger("keel.guards")

_DECISIVE = frozenset({"block", "retry", "fallback"})


@dataclass(frozen=True, slots=True)
class _Built:
    route: Route
    input: tuple[Guard, ...]
    output: tuple[Guard, ...]


@dataclass(slots=True)
class StageResult:
    body: Json
    verdicts: list[Verdict]
    decisive: Verdict | None
    """The verdict that stopped the stage: a block, or (output) a retry or a fallback."""
    refusal: KeelError | None = None
    """A guard's own client error (an input contract's 400 with its violations), to answer with."""

    @property
    def blocked(self) -> Verdict | None:
        return self.decisive if self.decisive is not None and self.decisive.action == "block" else None


class GuardRunner:
    def __init__(self, resources: GuardResources, metrics: Metrics) -> None:
        self._resources = resources
        self._metrics = metrics
        self._built: dict[str, _Built] = {}

    def guards(self, route: Route) -> _Built | None:
        resolved = route.guards
        if resolved is None:
            return None
        built = self._built.get(route.name)
        if built is None or built.route is not route:  # a reload brings new Route objects
            built = _Built(route, self._make(resolved, "input"), self._make(resolved, "output"))
            self._built[route.name] = built
        return built

    def _make(self, resolved: ResolvedGuards, stage: Stage) -> tuple[Guard, ...]:
        specs = resolved.input if stage == "input" else resolved.output
        return tuple(spec.cls(spec.name, spec.params, self._resources) for spec in specs)

    async def run_input(self, route: Route, body: Json, state: GuardState) -> StageResult:
        built = self.guards(route)
        assert built is not None and route.guards is not None
        return await self._run(route, "input", built.input, body, state, None)

    async def run_output(self, route: Route, request: Json, answer: Json, state: GuardState) -> StageResult:
        built = self.guards(route)
        assert built is not None and route.guards is not None
        return await self._run(route, "output", built.output, answer, state, request)

    async def _run(
        self, route: Route, stage: Stage, guards: tuple[Guard, ...], body: Json, state: GuardState, request: Json | None
    ) -> StageResult:
        assert route.guards is not None
        config = route.guards.config
        verdicts: list[Verdict] = []
        for guard in guards:
            started = time.perf_counter()
            try:
                call = guard.check_input(body, state) if request is None else guard.check_output(request, body, state)
                outcome: Outcome = await asyncio.wait_for(call, timeout=config.timeout_ms / 1000)
                verdict = outcome.verdict
                if outcome.body is not None:
                    body = outcome.body
            except KeelError as error:
                if error.status >= 500:
                    raise
                verdict = guard.verdict(stage, "block", (Finding(error.code or "refused"),), message=error.message)
                verdict.latency_ms = (time.perf_counter() - started) * 1000
                verdicts.append(verdict)
                self._metrics.child(self._metrics.guard_verdicts, route.name, guard.name, stage, "block").inc()
                return StageResult(body, verdicts, verdict, error)
            except Exception as error:  # TimeoutError included: the route's on_error decides
                what = "timed out" if isinstance(error, TimeoutError) else f"failed ({type(error).__name__}: {error})"
                log.warning("guard %s (%s) on route %s %s", guard.name, stage, route.name, what)
                self._metrics.child(self._metrics.guard_errors, route.name, guard.name, stage).inc()
                action: Action = "block" if config.on_error == "closed" else "allow"
                verdict = guard.verdict(stage, action, error=what[:200], message=f"guard {guard.name!r} {what[:80]}")
            verdict.latency_ms = (time.perf_counter() - started) * 1000
            verdicts.append(verdict)
            self._metrics.child(self._metrics.guard_verdicts, route.name, guard.name, stage, verdict.action).inc()
            if verdict.action in _DECISIVE:
                return StageResult(body, verdicts, verdict)
        return StageResult(body, verdicts, None)

    async def aclose(self) -> None:
        for built in self._built.values():
            for guard in (*built.input, *built.output):
                await guard.aclose()
        for shared in self._resources.shared.values():
            close = getattr(shared, "aclose", None)
            if close is not None:
                await close()
