"""The revocation list mirrored in each gateway process: checks without a round trip, and a
sign-out in one process reaches the others."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from uuid import uuid4

import pytest
import redis.asyncio as redis_asyncio

from infra.tokens import Revocations
from tests.conftest import REDIS_URL

TTL = timedelta(minutes=15)


@pytest.fixture
async def redis() -> AsyncIterator[redis_asyncio.Redis]:
    client = redis_asyncio.Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


async def _true(value: bool) -> bool:
    return value


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 10) -> None:
    async with asyncio.timeout(seconds):
        while True:
            if await check():
                return
            await asyncio.sleep(0.005)


@contextlib.asynccontextmanager
async def mirrored(revocations: Revocations) -> AsyncIterator[Revocations]:
    task = asyncio.create_task(revocations.run_mirror(retry_seconds=0.05))
    try:
        await eventually(lambda: _true(revocations.mirrored))
        yield revocations
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_sign_out_elsewhere_reaches_a_mirrored_process(redis: redis_asyncio.Redis) -> None:
    before, after = uuid4(), uuid4()
    elsewhere = Revocations(redis, TTL)
    await elsewhere.revoke([before])  # already revoked when this process starts: loaded
    async with mirrored(Revocations(redis, TTL)) as here:
        assert await here.is_revoked(before)
        assert not await here.is_revoked(after)
        await elsewhere.revoke([after])  # revoked while it runs: published
        await eventually(lambda: here.is_revoked(after))
        assert not await here.is_revoked(uuid4())


async def test_a_mirrored_process_answers_without_redis(redis: redis_asyncio.Redis) -> None:
    family = uuid4()
    await Revocations(redis, TTL).revoke([family])
    async with mirrored(Revocations(redis, TTL)) as here:
        calls = 0
        real = redis.exists

        async def counting(*keys: str) -> int:
            nonlocal calls
            calls += 1
            return int(await real(*keys))

        redis.exists = counting  # type: ignore[method-assign]
        try:
            assert await here.is_revoked(family)
            assert not await here.is_revoked(uuid4())
        finally:
            redis.exists = real  # type: ignore[method-assign]
        assert calls == 0


async def test_without_a_live_mirror_every_check_asks_redis(redis: redis_asyncio.Redis) -> None:
    family = uuid4()
    await Revocations(redis, TTL).revoke([family])
    cold = Revocations(redis, TTL)  # its mirror never ran: it must not trust its empty memory
    assert not cold.mirrored
    assert await cold.is_revoked(family)
    assert not await cold.is_revoked(uuid4())


async def test_the_mirror_comes_back_after_its_connection_is_killed(redis: redis_asyncio.Redis) -> None:
    async with mirrored(Revocations(redis, TTL)) as here:
        # Kill the pub/sub connections: the mirror must notice, resubscribe and reload.
        clients = await redis.client_list(_type="pubsub")
        assert clients
        for c in clients:
            with contextlib.suppress(Exception):
                await redis.client_kill_filter(_id=c["id"])
        family = uuid4()
        async with asyncio.timeout(10):
            while True:
                await Revocations(redis, TTL).revoke([family])
                if here.mirrored and await here.is_revoked(family):
                    break
                await asyncio.sleep(0.05)
