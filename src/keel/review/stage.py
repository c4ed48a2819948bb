"""Score each answer of a route with ``confidence``; below the threshold, fall back or queue it for a person.

The stage wraps the output guards, so it scores the answer the client would get, with the guards'
verdicts known. A non-streamed answer is scored before it is returned:

- the score goes to ``x-keel-confidence`` and the request log (unknown: no header, no score);
- below the threshold with ``below: review`` (or ``fallback_and_review``) the exchange is queued,
  PII-redacted, and the answer is served marked ``x-keel-review: queued``;
- below the threshold with ``below: fallback`` (or ``fallback_and_review``) the request is answered
  again from the route's safe mode, marked ``x-keel-safe-mode: low_confidence``; what the discarded
  answer cost stays in the request's cost;
- ``x-keel-low-confidence`` says which: ``fallback``, or ``kept`` when the answer was served anyway;
- a share of confident answers (``review_sample``) is queued too, as spot checks.

A stream cannot be taken back once it has started, so it is scored when it has ended: its score is
logged and it may be queued, but it never falls back, has no ``agreement`` (that needs the whole
answer before the client sees any), and gets no headers from this stage (they went out first; an FAQ
answer keeps the FAQ's own ``x-keel-confidence``, its match score).

Answers from a safe-mode path or a cache are not scored: no deployment answered them just now. A
review that cannot be queued (the database is down) is logged, and the answer is served all the same.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Mapping

from keel.cache.replay import as_body
from keel.config.runtime import Deployment
from keel.core.context import Json, Reply, RequestContext
from keel.core.errors import KeelError
from keel.cost.compute import cost_of
from keel.cost.estimate import estimate_completion_tokens, estimate_request_tokens
from keel.cost.money import NANOS_PER_USD
from keel.cost.prices import price_for
from keel.pipeline.call import call_deployment, effective_timeouts
from keel.pipeline.chain import Handler
from keel.pipeline.cost import discard_answer
from keel.providers.base import Provider
from keel.review.confidence import Confidence, answer_text, score_answer
from keel.review.config import ConfidenceConfig
from keel.review.store import Reason, Review, SqlReviewStore
from keel.routing.health import Health

log = logging.getLogger("keel.review")

AGREEMENT_KIND = "agreement"
"""The attempt kind of the extra calls ``agreement`` makes, as the request log shows them."""


class ScoreConfidence:
    def __init__(self, store: SqlReviewStore, providers: Mapping[str, Provider], health: Health) -> None:
        self._store = store
        self._providers = providers
        self._health = health

    async def __call__(self, ctx: RequestContext, call_next: Handler) -> Reply:
        reply = await call_next(ctx)
        config = _config(ctx, reply)
        if config is None:
            return reply
        if reply.stream is not None:
            if ctx.stream_chunks is None:
                ctx.stream_chunks = []  # the relay collects the chunks from here on (its generator has not run yet)
            reply.stream = self._score_after(ctx, config, reply.stream)
            return reply
        assert reply.body is not None and ctx.deployment is not None
        resampled = await self._resample(ctx, ctx.deployment, config) if "agreement" in config.signals else []
        confidence = self._score(ctx, config, reply.body, resampled)
        queued = await self._maybe_queue(ctx, config, confidence, reply.body)
        low = _low(config, confidence)
        if low and config.falls_back:
            reply = await self._fall_back(ctx, config, call_next)
        if confidence is None:
            reply.headers.pop("x-keel-confidence", None)  # the FAQ's own match score is not this score
        else:
            reply.headers["x-keel-confidence"] = f"{confidence.score:.4f}"
        if low:
            reply.headers["x-keel-low-confidence"] = "fallback" if config.falls_back else "kept"
        if queued:
            reply.headers["x-keel-review"] = "queued"
        return reply

    async def _score_after(
        self, ctx: RequestContext, config: ConfidenceConfig, stream: AsyncIterator[bytes]
    ) -> AsyncIterator[bytes]:
        async for frame in stream:
            yield frame
        # Reached only when the client took the whole stream; ``error_class`` is set by a failed one.
        answer = _streamed_answer(ctx) if ctx.error_class is None else None
        if answer is not None:
            await self._maybe_queue(ctx, config, self._score(ctx, config, answer, []), answer)

    @staticmethod
    def _score(ctx: RequestContext, config: ConfidenceConfig, answer: Json, resampled: list[Json]) -> Confidence | None:
        confidence = score_answer(
            answer,
            verdicts=ctx.guard_verdicts,
            deployment_provider=ctx.deployment.provider if ctx.deployment is not None else None,
            resampled=resampled,
            signals=config.signals,
        )
        ctx.confidence = confidence.score if confidence is not None else None
        return confidence

    async def _maybe_queue(
        self, ctx: RequestContext, config: ConfidenceConfig, confidence: Confidence | None, answer: Json
    ) -> bool:
        """Queue the exchange when it is low and the route reviews, or drawn as a spot check."""
        reason: Reason | None = None
        if _low(config, confidence):
            reason = "low_confidence" if config.reviews else None
        elif sampled(ctx.request_id, config.review_sample):
            reason = "sample"
        if reason is None:
            return False
        assert ctx.route is not None and ctx.body is not None
        item = Review(
            request_id=ctx.request_id,
            route=ctx.route.name,
            deployment=ctx.deployment.name if ctx.deployment is not None else None,
            reason=reason,
            confidence=confidence.score if confidence is not None else None,
            parts=confidence.parts if confidence is not None else {},
            messages=[m for m in ctx.body.get("messages") or () if isinstance(m, dict)],
            answer=answer_text(answer),
        )
        try:
            await self._store.queue(item)
        except Exception:  # reviewing is best effort: whatever the store's failure, the answer goes out
            log.exception("could not queue %s for review; the answer is served without it", ctx.request_id)
            return False
        return True

    @staticmethod
    async def _fall_back(ctx: RequestContext, config: ConfidenceConfig, call_next: Handler) -> Reply:
        """Answer again from the route's safe mode, keeping what the discarded answer cost."""
        discard_answer(ctx)
        ctx.response_body = None
        ctx.safe_mode = f"confidence {ctx.confidence:.4f} below {config.threshold}"
        reply = await call_next(ctx)
        reply.headers["x-keel-safe-mode"] = "low_confidence"
        return reply

    async def _resample(self, ctx: RequestContext, dep: Deployment, config: ConfidenceConfig) -> list[Json]:
        """The same request asked of the same deployment again (one choice each), paid for by the request."""
        assert ctx.route is not None and ctx.body is not None
        body = {k: v for k, v in ctx.body.items() if k not in ("stream", "stream_options")} | {"n": 1}
        deadline = ctx.started + effective_timeouts(dep, ctx.route).total_s

        async def ask() -> Json | None:
            try:
                answer = await call_deployment(ctx, self._providers, self._health, dep, AGREEMENT_KIND, deadline, body)
            except KeelError as error:
                log.info("%s: an agreement sample from %s failed: %s", ctx.request_id, dep.name, error.message)
                return None
            return answer.body

        found = await asyncio.gather(*(ask() for _ in range(config.agreement_samples - 1)))
        answers = [answer for answer in found if answer is not None]
        _charge(ctx, dep, body, answers)
        return answers


def _low(config: ConfidenceConfig, confidence: Confidence | None) -> bool:
    """Below the threshold; an unknown score is not low."""
    return confidence is not None and confidence.score < config.threshold


def _config(ctx: RequestContext, reply: Reply) -> ConfidenceConfig | None:
    """The route's confidence config when this reply is an answer to score."""
    route = ctx.route
    if route is None or route.config.confidence is None or ctx.endpoint != "chat.completions":
        return None
    if reply.status != 200 or ctx.safe_mode is not None or (reply.stream is None and reply.body is None):
        return None
    return route.config.confidence


def _streamed_answer(ctx: RequestContext) -> Json | None:
    """A finished stream as a body: from the relayed chunks, or the answer the output guards replayed."""
    chunks = ctx.stream_chunks
    if not chunks:
        return ctx.response_body
    try:
        body = as_body(chunks)
    except ValueError:  # a choice never finished: not an answer
        return None
    extra = next((chunk["keel"] for chunk in chunks if "keel" in chunk), None)  # the FAQ's match, in its first chunk
    if extra is not None:
        body["keel"] = extra
    return body


def _charge(ctx: RequestContext, dep: Deployment, body: Json, answers: list[Json]) -> None:
    """Add what the extra answers cost to the request's cost."""
    nanos = 0
    for answer in answers:
        price = price_for(dep.provider, answer.get("model") or dep.model, dep.config.price)
        if price is not None:
            completion = estimate_completion_tokens(answer_text(answer) or "")
            nanos += cost_of(price, answer.get("usage"), estimate_request_tokens(body), completion).total_nanos
    if ctx.cost_usd is None:
        ctx.prior_cost_nanos += nanos
    else:
        ctx.cost_usd += nanos / NANOS_PER_USD


def sampled(request_id: str, share: float) -> bool:
    """Whether a request is drawn for a spot check: a hash of its id, the same in every process."""
    digest = hashlib.blake2b(request_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < share
