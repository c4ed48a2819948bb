"""Load shedding admits up to the cap, queues up to the queue, and refuses the rest at once."""

from __future__ import annotations

import asyncio

from keel.config.resilience import SheddingConfig
from keel.control.admission import Admission


async def test_cap_then_refuse_without_a_queue() -> None:
    admission = Admission(SheddingConfig(max_in_flight=2, max_queued=0))
    assert await admission.enter() and await admission.enter()
    assert not await admission.enter()
    assert admission.in_flight == 2  # a refused request is not counted
    admission.leave()
    assert admission.in_flight == 1
    assert await admission.enter()
    assert admission.in_flight == 2


async def test_queue_waits_for_a_slot_and_times_out() -> None:
    admission = Admission(SheddingConfig(max_in_flight=1, max_queued=1, queue_timeout_s=0.2))
    assert await admission.enter()
    waiting = asyncio.create_task(admission.enter())
    await asyncio.sleep(0.01)
    assert admission.queued == 1
    assert not await admission.enter()  # the queue is full: refused at once
    admission.leave()
    assert await waiting  # it got the freed slot
    assert admission.in_flight == 1
    assert await admission.enter() is False  # queued for queue_timeout_s, no slot freed: gave up
    assert admission.queued == 0
