"""CommandBatcher against the real Redis: one pipeline per turn of the loop, replies to their callers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from keel.hot.redis_batch import CommandBatcher, Script


class Pipelines:
    """Counts the pipelines a client opens (and the commands each carried), passing everything through."""

    def __init__(self, client: Redis) -> None:
        self.sizes: list[int] = []
        self._open = client.pipeline

        def pipeline(*args: Any, **kwargs: Any) -> Any:
            pipe = self._open(*args, **kwargs)
            execute = pipe.execute

            async def counted(*a: Any, **k: Any) -> Any:
                self.sizes.append(len(pipe.command_stack))
                return await execute(*a, **k)

            pipe.execute = counted
            return pipe

        client.pipeline = pipeline  # type: ignore[method-assign]


@pytest.fixture
def pipelines(redis_client: Redis) -> Iterator[Pipelines]:
    yield Pipelines(redis_client)


INCR_BY = Script("return redis.call('INCRBY', KEYS[1], ARGV[1])")


async def test_commands_of_one_turn_share_one_pipeline_and_get_their_own_replies(
    redis_client: Redis, pipelines: Pipelines, key_prefix: str
) -> None:
    await redis_client.script_load(INCR_BY.source)  # else the first pipeline meets NOSCRIPT and is sent again
    batcher = CommandBatcher(redis_client, lambda error: error)
    keys = [f"{{{key_prefix}:n{i}}}" for i in range(20)]
    replies = await asyncio.gather(*(batcher.script(INCR_BY, [key], [i + 1]) for i, key in enumerate(keys)))
    assert replies == list(range(1, 21))
    assert pipelines.sizes == [20]

    # The next turn is a pipeline of its own.
    assert await batcher.command("GET", keys[4]) == "5"
    assert pipelines.sizes == [20, 1]


async def test_a_failing_command_fails_alone(redis_client: Redis, key_prefix: str) -> None:
    await redis_client.set(f"{{{key_prefix}:text}}", "not a number")
    seen: list[BaseException] = []

    def mapped(error: BaseException) -> BaseException:
        seen.append(error)
        return error

    batcher = CommandBatcher(redis_client, mapped)
    good, bad, other = await asyncio.gather(
        batcher.script(INCR_BY, [f"{{{key_prefix}:a}}"], [2]),
        batcher.script(INCR_BY, [f"{{{key_prefix}:text}}"], [1]),
        batcher.command("SET", f"{{{key_prefix}:b}}", "1", "NX"),
        return_exceptions=True,
    )
    assert good == 2 and other is True
    assert isinstance(bad, ResponseError) and seen == [bad]


async def test_large_turns_are_split_into_bounded_pipelines(
    redis_client: Redis, pipelines: Pipelines, key_prefix: str
) -> None:
    batcher = CommandBatcher(redis_client, lambda error: error, max_batch=300)
    replies = await asyncio.gather(*(batcher.script(INCR_BY, [f"{{{key_prefix}:big}}"], [1]) for _ in range(1000)))
    assert sorted(replies) == list(range(1, 1001))
    assert sorted(pipelines.sizes) == [100, 300, 300, 300]


async def test_a_cancelled_caller_leaves_the_others_answered(redis_client: Redis, key_prefix: str) -> None:
    batcher = CommandBatcher(redis_client, lambda error: error)
    first = asyncio.ensure_future(batcher.script(INCR_BY, [f"{{{key_prefix}:c}}"], [1]))
    second = asyncio.ensure_future(batcher.script(INCR_BY, [f"{{{key_prefix}:c}}"], [10]))
    await asyncio.sleep(0)  # both queued
    first.cancel()
    assert await second in (10, 11)  # the cancelled command may or may not have run, as when sent alone
    await batcher.aclose()
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_an_unreachable_server_fails_every_caller_with_the_mapped_error() -> None:
    client = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)

    class Away(Exception):
        pass

    batcher = CommandBatcher(client, lambda error: Away(repr(error)))
    outcomes = await asyncio.gather(batcher.command("PING"), batcher.command("PING"), return_exceptions=True)
    assert [type(o) for o in outcomes] == [Away, Away]
    await client.aclose()
