"""The pipeline order, declared once.

record → shed load → authenticate → kill switch → validate
→ rate limits and budget reserve (settled and committed after the call)
→ input guards (PII redaction, prompt injection, input contracts)
→ exact cache (lookup; store after the call)
→ semantic cache (nearest earlier prompt of the route; store after the call)
→ shadow (mirror a share of answered requests to a candidate, once the answer is out)
→ confidence (score the checked answer; below the threshold, safe mode or the human review queue)
→ output guards (checked before the answer reaches the client; placeholders restored last)
→ tier (classify; escalate a failed cheap answer to the next tier)
→ canary rollout (live or candidate, by sticky hash)
→ choose route (plan)
→ call upstream (retries, failover, fallbacks, hedging, safe mode)
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping

from keel.auth.keyring import KeyRing
from keel.cache.semantic import SemanticCache
from keel.cache.store import ResponseCache
from keel.config.runtime import RuntimeConfig
from keel.control.admission import Admission
from keel.control.kill_switches import KillBoard
from keel.guards.runner import GuardRunner
from keel.hot.budgets import BudgetLedger
from keel.hot.limits import RateLimiter
from keel.monitor.alerts import WebhookNotifier
from keel.monitor.metrics import Metrics
from keel.pipeline.admit import AdmitWithinLimits
from keel.pipeline.attempt import CallUpstream
from keel.pipeline.auth import Authenticate
from keel.pipeline.cache import ExactCache
from keel.pipeline.chain import Handler, Stage, build_chain
from keel.pipeline.guards import IncidentSink, InputGuards, OutputGuards
from keel.pipeline.kill import CheckKillSwitches
from keel.pipeline.record import DriftSink, RecordRequest
from keel.pipeline.rollout import AssignRollout
from keel.pipeline.route import ChooseRoute
from keel.pipeline.semantic import SemanticCacheStage
from keel.pipeline.shed import ShedLoad
from keel.pipeline.tiers import ServeByTier
from keel.pipeline.validate import ValidateRequest
from keel.providers.base import Provider
from keel.review.stage import ScoreConfidence
from keel.review.store import SqlReviewStore
from keel.rollout.board import RolloutBoard
from keel.routing.health import Health
from keel.routing.tiering.examples import Embed
from keel.shadow.mirror import MirrorToShadow
from keel.store.records import RequestRecord


def features_in_use(config: RuntimeConfig) -> frozenset[str]:
    """The optional stages some route of ``config`` needs."""
    raw = config.raw
    uses: set[str] = set()
    limits = raw.rate_limits
    if raw.budgets or limits.default_key or limits.keys or limits.teams:
        uses.add("limits")
    for route in config.routes.values():
        rc = route.config
        if rc.rate_limit is not None:
            uses.add("limits")
        for feature, value in (
            ("guards", rc.guards),
            ("cache", rc.cache),
            ("semantic_cache", rc.semantic_cache),
            ("shadow", rc.shadow),
            ("confidence", rc.confidence),
            ("tiering", rc.tiering),
            ("rollout", rc.rollout),
        ):
            if value is not None:
                uses.add(feature)
    return frozenset(uses)


def build_pipeline(
    *,
    config: RuntimeConfig,
    keyring: KeyRing,
    kill_board: KillBoard,
    providers: Mapping[str, Provider],
    health: Health,
    submit: Callable[[RequestRecord], None],
    metrics: Metrics,
    rng: random.Random,
    limiter: RateLimiter,
    ledger: BudgetLedger,
    alerts: WebhookNotifier,
    cache: ResponseCache,
    admission: Admission,
    semantic: SemanticCache,
    guards: GuardRunner,
    on_incident: IncidentSink,
    reviews: SqlReviewStore,
    rollouts: RolloutBoard,
    embed: Embed | None = None,
    drift: DriftSink | None = None,
    shadow: MirrorToShadow | None = None,
) -> Handler:
    # A stage no route of this config needs is left out of the chain (it is rebuilt on every reload).
    uses = features_in_use(config)
    optional: list[tuple[str, Stage]] = [
        ("limits", AdmitWithinLimits(limiter, ledger, alerts)),
        ("guards", InputGuards(guards)),
        ("cache", ExactCache(cache)),
        ("semantic_cache", SemanticCacheStage(semantic)),
        *([("shadow", shadow)] if shadow is not None else []),
        ("confidence", ScoreConfidence(reviews, providers, health)),
        ("guards", OutputGuards(guards, on_incident)),
        ("tiering", ServeByTier(embed)),
        ("rollout", AssignRollout(rollouts)),
    ]
    stages: list[Stage] = [
        RecordRequest(submit, metrics, drift),
        ShedLoad(admission, metrics),
        Authenticate(keyring),
        CheckKillSwitches(kill_board),
        ValidateRequest(),
        *(stage for feature, stage in optional if feature in uses),
        ChooseRoute(health, kill_board, rng),
    ]
    return build_chain(stages, CallUpstream(providers, health, rng))
