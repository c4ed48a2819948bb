"""Shadow traffic through the gateway's real pipeline: the client gets the live answer first and only.

Costs are worked out by hand from word counts (the simulator counts one token per word): the question
is 6 words, the live reply 4 words at 1 and 2 USD per million tokens, the slow candidate's reply 4 words
at 10 and 30.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from keel.services.runtime import Runtime
from keel.shadow.mirror import sampled
from keel.shadow.store import ShadowResult, SqlShadowStore
from keel.store.records import RequestRecord
from tests.shadow.conftest import LIVE_REPLY, Send

LIVE_COST = (6 * 1 + 4 * 2) / 1e6
SLOW_COST = (6 * 10 + 4 * 30) / 1e6

T = TypeVar("T")


async def _eventually(read: Callable[[], Awaitable[T]], done: Callable[[T], bool], timeout_s: float = 10.0) -> T:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        value = await read()
        if done(value) or loop.time() > deadline:
            return value
        await asyncio.sleep(0.02)


async def _logged(runtime: Runtime, request_id: str) -> RequestRecord:
    async def read() -> list[RequestRecord]:
        return [r for r in await runtime.request_log.recent(50) if r.request_id == request_id]

    found = await _eventually(read, bool)
    assert found, f"{request_id} never reached the request log"
    return found[0]


async def _results(store: SqlShadowStore, route: str, count: int) -> list[ShadowResult]:
    return await _eventually(lambda: store.results(route, 0), lambda found: len(found) >= count)


async def test_the_client_gets_the_live_answer_before_the_slow_candidate_is_recorded(
    runtime: Runtime, store: SqlShadowStore, send: Send
) -> None:
    sent = await send("support")
    assert sent.text == LIVE_REPLY and sent.ctx.deployment is not None and sent.ctx.deployment.name == "live"
    # The candidate takes 300 ms; the answer came back without waiting for it.
    assert await store.results("support", 0) == []
    await runtime.shadow.aclose(grace_s=10)
    [result] = await store.results("support", 0)
    assert (result.request_id, result.route, result.live_deployment, result.candidate) == (
        sent.ctx.request_id,
        "support",
        "live",
        "slow",
    )
    assert result.error is None and result.ts == sent.ctx.ts
    assert result.shadow_latency_ms is not None and result.shadow_latency_ms >= 300
    assert result.live_latency_ms is not None and result.live_latency_ms < result.shadow_latency_ms
    # "Paris is the capital" and "The capital is Paris": the same words in another order.
    assert result.similarity == result.lexical_similarity == 1.0
    assert result.semantic_similarity is None and result.json_equal is None and result.length_ratio == 1.0
    assert result.live_cost_usd == LIVE_COST and result.shadow_cost_usd == SLOW_COST
    logged = await _logged(runtime, sent.ctx.request_id)
    assert logged.cost_usd == LIVE_COST  # the user's cost: the live call only
    assert [a.deployment for a in logged.attempts] == ["live"]


async def test_a_stream_is_mirrored_once_it_has_ended(runtime: Runtime, store: SqlShadowStore, send: Send) -> None:
    sent = await send("support", stream=True)
    assert sent.text == LIVE_REPLY
    assert await store.results("support", 0) == []
    await runtime.shadow.aclose(grace_s=10)
    [result] = await store.results("support", 0)
    assert result.request_id == sent.ctx.request_id and result.error is None
    assert result.similarity == 1.0 and result.live_cost_usd == LIVE_COST and result.shadow_cost_usd == SLOW_COST
    assert (await _logged(runtime, sent.ctx.request_id)).cost_usd == LIVE_COST


async def test_a_failing_candidate_is_recorded_and_the_client_never_sees_it(
    runtime: Runtime, store: SqlShadowStore, send: Send
) -> None:
    sent = await send("broken")
    assert sent.reply.status == 200 and sent.text == LIVE_REPLY
    [result] = await _results(store, "broken", 1)
    assert result.error is not None and result.error.startswith("Upstream")
    assert result.similarity is None and result.shadow_cost_usd is None and result.live_cost_usd == LIVE_COST
    logged = await _logged(runtime, sent.ctx.request_id)
    assert logged.status == 200 and logged.error_class is None
    assert [a.deployment for a in logged.attempts] == ["live"]


async def test_the_share_mirrored_is_drawn_from_the_request_id(
    runtime: Runtime, store: SqlShadowStore, send: Send
) -> None:
    ids = [(await send("sampled")).ctx.request_id for _ in range(40)]
    await runtime.shadow.aclose(grace_s=10)
    mirrored = {r.request_id for r in await store.results("sampled", 0)}
    expected = {i for i in ids if sampled("sampled", i, 0.3)}
    assert mirrored == expected
    assert 0 < len(mirrored) < len(ids)  # 0.7**40 and 0.3**40: neither extreme is plausible
    for result in await store.results("sampled", 0):  # "Lyon" against "Paris is the capital"
        assert result.candidate == "other" and result.similarity is not None and result.similarity < 0.5


async def test_at_most_max_in_flight_shadow_calls_run_and_the_rest_are_skipped(
    runtime: Runtime, store: SqlShadowStore, send: Send
) -> None:
    burst = await asyncio.gather(*(send("busy") for _ in range(6)))
    assert all(sent.text == LIVE_REPLY for sent in burst)
    first = await _results(store, "busy", 2)
    assert len(first) == 2
    # The bound is on calls running, not on calls made: once they are done, mirroring resumes.
    again = await send("busy")
    await runtime.shadow.aclose(grace_s=10)
    after = await store.results("busy", 0)
    assert len(after) == 3 and again.ctx.request_id in {r.request_id for r in after}


async def test_cache_hits_are_not_mirrored(runtime: Runtime, store: SqlShadowStore, send: Send) -> None:
    first = await send("cached")
    hit = await send("cached")
    assert hit.ctx.cache == "hit" and hit.text == first.text == LIVE_REPLY
    await runtime.shadow.aclose(grace_s=10)
    assert [r.request_id for r in await store.results("cached", 0)] == [first.ctx.request_id]


async def test_the_route_s_output_guards_judge_the_candidate_too(
    runtime: Runtime, store: SqlShadowStore, send: Send
) -> None:
    sent = await send("guarded")
    assert sent.text == LIVE_REPLY
    await runtime.shadow.aclose(grace_s=10)
    [result] = await store.results("guarded", 0)
    assert result.live_guard_actions == ("contains=allow",)
    assert result.shadow_guard_actions == ("contains=block",)  # "Lyon" does not contain "Paris"
    summary = await store.summary("guarded", 0)
    assert summary.guard_checked == 1 and summary.guard_disagreements == {"allow→block": 1}


async def test_a_route_may_compare_embeddings_too(runtime: Runtime, store: SqlShadowStore, send: Send) -> None:
    await send("semantic")
    await send("support")
    await runtime.shadow.aclose(grace_s=10)
    [semantic] = await store.results("semantic", 0)
    [lexical] = await store.results("support", 0)
    # The gateway's default embedder hashes words and word pairs: same words, other pairs.
    assert semantic.semantic_similarity is not None and 0 < semantic.semantic_similarity < 1
    assert semantic.similarity == semantic.semantic_similarity and semantic.lexical_similarity == 1.0
    assert lexical.semantic_similarity is None and lexical.similarity == 1.0


async def test_routes_without_shadow_traffic_are_left_alone(
    runtime: Runtime, store: SqlShadowStore, send: Send
) -> None:
    sent = await send("plain", stream=True)
    assert sent.text == LIVE_REPLY and sent.ctx.stream_chunks is None  # nothing collected for a comparison
    await runtime.shadow.aclose(grace_s=10)
    assert await store.results("plain", 0) == []
