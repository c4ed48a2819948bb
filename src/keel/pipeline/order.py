"""The pipeline order, declared once.

    record → authenticate → validate → choose route → call upstream

Later capabilities slot in here, in this order: kill switch after authenticate; rate limit and budget
reserve after validate; input guards and cache lookup before the route choice; output guards,
confidence fallback, cache store and budget commit around the upstream call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from keel.auth.keyring import KeyRing
from keel.monitor.metrics import Metrics
from keel.pipeline.attempt import CallUpstream
from keel.pipeline.auth import Authenticate
from keel.pipeline.chain import Handler, Stage, build_chain
from keel.pipeline.record import RecordRequest
from keel.pipeline.route import ChooseRoute
from keel.pipeline.validate import ValidateRequest
from keel.providers.base import Provider
from keel.store.records import RequestRecord


def build_pipeline(
    *,
    keyring: KeyRing,
    providers: Mapping[str, Provider],
    submit: Callable[[RequestRecord], None],
    metrics: Metrics,
) -> Handler:
    stages: list[Stage] = [
        RecordRequest(submit, metrics),
        Authenticate(keyring),
        ValidateRequest(),
        ChooseRoute(),
    ]
    return build_chain(stages, CallUpstream(providers))
