"""The canary admin API: list the suites, run one now, read a suite's history. Admin key only.

    GET  /admin/canaries                      suites with schedule, next run and last run's pass rate
    POST /admin/canaries/{suite}/run          run now; answers with the whole run once it has finished
    GET  /admin/canaries/{suite}/runs?limit=  the latest runs, and each test's pass rate and flakiness

The JSON shapes are shared with ``keel canary … --json``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from keel.canary.flaky import TestHistory
from keel.canary.runner import SuiteRun, Trial
from keel.canary.service import CanaryService, SuiteHistory, UnknownSuite
from keel.core.errors import InvalidRequest, NotFound
from keel.server.caller import admin_runtime
from keel.server.responses import json_response
from keel.services.runtime import Runtime

MAX_LIMIT = 1000


def add_canary_routes(app: web.Application, key: web.AppKey[Runtime]) -> None:
    def service_of(request: web.Request) -> CanaryService:
        return admin_runtime(request, key).canaries

    async def list_suites(request: web.Request) -> web.Response:
        service = service_of(request)
        data = []
        for name, suite in service.suites().items():
            latest = await service.store.latest(name)
            data.append(
                {
                    "name": name,
                    "description": suite.description,
                    "target": {"kind": suite.target.kind, "name": suite.target.name},
                    "schedule": suite.schedule,
                    "next_run_at": service.next_run_at(name),
                    "running": service.running(name),
                    "tests": len(suite.tests),
                    "repeat": suite.repeat,
                    "alert_below": suite.alert_below,
                    "last_run": run_json(latest, with_trials=False) if latest is not None else None,
                }
            )
        return json_response({"object": "list", "data": data, "problems": list(service.problems)})

    async def run_now(request: web.Request) -> web.Response:
        service = service_of(request)
        try:
            run = await service.run(request.match_info["suite"], trigger="api")
        except UnknownSuite as error:
            raise NotFound(str(error), code="suite_not_found") from None
        return json_response(run_json(run))

    async def runs(request: web.Request) -> web.Response:
        service = service_of(request)
        name = request.match_info["suite"]
        try:
            limit = int(request.query.get("limit", "20"))
        except ValueError:
            raise InvalidRequest("'limit' must be an integer", param="limit") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidRequest(f"'limit' must be from 1 to {MAX_LIMIT}", param="limit")
        history = await service.history(name, limit)
        if not history.runs and name not in service.suites():
            raise NotFound(f"no canary suite named {name!r}, and no runs of one", code="suite_not_found")
        return json_response(history_json(history))

    app.router.add_get("/admin/canaries", list_suites)
    app.router.add_post("/admin/canaries/{suite}/run", run_now)
    app.router.add_get("/admin/canaries/{suite}/runs", runs)


def run_json(run: SuiteRun, *, with_trials: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": run.run_id,
        "object": "canary.run",
        "suite": run.suite,
        "target": {"kind": run.target.kind, "name": run.target.name},
        "suite_digest": run.suite_digest,
        "trigger": run.trigger,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "total": len(run.trials),
        "passed": run.passed,
        "pass_rate": run.pass_rate,
        "alert_below": run.alert_below,
        "alert": run.alert,
        "summary": run.describe(),
        "tests": [
            {"id": t.test_id, "trials": t.trials, "passed": t.passed, "pass_rate": t.pass_rate} for t in run.tests
        ],
    }
    if with_trials:
        body["trials"] = [trial_json(trial) for trial in run.trials]
    return body


def trial_json(trial: Trial) -> dict[str, Any]:
    return {
        "test_id": trial.test_id,
        "repeat": trial.repeat,
        "passed": trial.passed,
        "latency_ms": trial.latency_ms,
        "error": trial.error,
        "answer": trial.answer,
        "deployment": trial.deployment,
        "outcomes": [{"kind": o.kind, "passed": o.passed, "detail": o.detail} for o in trial.outcomes],
    }


def history_json(history: SuiteHistory) -> dict[str, Any]:
    return {
        "object": "canary.history",
        "suite": history.suite,
        "runs": [run_json(run, with_trials=False) for run in history.runs],
        "tests": [flakiness_json(test) for test in history.tests],
    }


def flakiness_json(test: TestHistory) -> dict[str, Any]:
    return {
        "id": test.test_id,
        "executions": test.executions,
        "verdicts": list(test.verdicts),
        "trials": test.trials,
        "passed": test.passed,
        "pass_rate": test.pass_rate,
        "flips": test.flips,
        "flaky": test.flaky,
    }
