"""Tiered routes: start a request on the tier the classifier picks, escalate when its answer fails a check.

The classifier (rules, plus a vote of labelled examples when the route has them) picks the starting
tier; the route choice then plans over that tier's deployments. A non-streamed answer from a tier below
the strongest is checked (refusal, truncation, empty, invalid JSON or schema, invalid tool arguments,
low FAQ confidence) and, if a check fails — or every deployment of the tier failed — the request goes
to the next tier up. What the discarded answers cost is added to the request's cost. A streamed answer
cannot be taken back once it has started, so streams are placed by the classifier only.

The answer carries ``x-keel-tier`` (and ``x-keel-escalation`` when it escalated); the request log
keeps both, and ``keel cost tiers`` reports each tier's share and the saving against all-strong.
"""

from __future__ import annotations

from dataclasses import dataclass

from keel.config.runtime import Route
from keel.core.context import Json, Reply, RequestContext
from keel.core.errors import KeelError
from keel.pipeline.chain import Handler
from keel.pipeline.cost import discard_answer
from keel.routing.tiering.checks import escalation_reason
from keel.routing.tiering.classify import TierClassifier
from keel.routing.tiering.config import TieringConfig
from keel.routing.tiering.examples import Embed, NearestNeighbours


@dataclass(frozen=True, slots=True)
class _Built:
    route: Route
    classifier: TierClassifier


class ServeByTier:
    def __init__(self, embed: Embed | None) -> None:
        self._embed = embed
        self._classifiers: dict[str, _Built] = {}

    async def __call__(self, ctx: RequestContext, call_next: Handler) -> Reply:
        assert ctx.body is not None
        route = ctx.requested
        tiering = route.config.tiering if route is not None else None
        if route is None or tiering is None or ctx.endpoint != "chat.completions":
            return await call_next(ctx)
        choice = await (await self._classifier(route, tiering)).choose(ctx.body)
        ctx.tier = choice.index
        strongest = len(tiering.tiers) - 1
        while True:
            tier = tiering.tiers[ctx.tier]
            ctx.pool = tier.deployments
            try:
                reply = await call_next(ctx)
            except KeelError as error:
                if ctx.tier == strongest or not error.failover or ctx.safe_mode is not None:
                    raise
                self._escalate(ctx, f"{tier.name}: {error.code or error.error_type}")
                continue
            reason = None
            if ctx.tier < strongest and reply.stream is None and reply.body is not None and ctx.safe_mode is None:
                reason = escalation_reason(ctx.body, reply.body, tiering.escalation, _faq_confidence(ctx, reply.body))
            if reason is None:
                reply.headers["x-keel-tier"] = tier.name
                if ctx.escalation is not None:
                    reply.headers["x-keel-escalation"] = ctx.escalation
                return reply
            self._escalate(ctx, f"{tier.name}: {reason}")

    @staticmethod
    def _escalate(ctx: RequestContext, why: str) -> None:
        """Keep what the discarded answer cost, forget the rest, and move one tier up."""
        discard_answer(ctx)
        ctx.escalation = why if ctx.escalation is None else f"{ctx.escalation}; {why}"
        assert ctx.tier is not None
        ctx.tier += 1

    async def _classifier(self, route: Route, tiering: TieringConfig) -> TierClassifier:
        built = self._classifiers.get(route.name)
        if built is not None and built.route is route:
            return built.classifier
        neighbours = None
        if route.tier_examples and self._embed is not None:
            neighbours = await NearestNeighbours.build(route.tier_examples, self._embed, tiering.classifier.neighbours)
        classifier = TierClassifier(tiering.classifier, tiering.names, neighbours)
        self._classifiers[route.name] = _Built(route, classifier)  # a reload brings new Route objects
        return classifier


def _faq_confidence(ctx: RequestContext, body: Json) -> float | None:
    if ctx.deployment is None or ctx.deployment.provider != "faq":
        return None
    extra = body.get("keel")
    confidence = extra.get("confidence") if isinstance(extra, dict) else None
    return float(confidence) if isinstance(confidence, int | float) else None
