"""The query cache on the real Redis: single computation under a stampede, invalidation."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest

from infra.cache import Cache
from tests.conftest import REDIS_URL
from tests.integration.projections_support import wait_until


@pytest.fixture
async def redis() -> AsyncIterator[Any]:
    import redis.asyncio as redis_asyncio

    pool = redis_asyncio.BlockingConnectionPool.from_url(REDIS_URL, max_connections=64)
    client = redis_asyncio.Redis(connection_pool=pool)
    yield client
    await client.aclose()


def prefix() -> str:
    return f"t{secrets.token_hex(4)}:q"


class Source:
    """A slow query that counts how often it ran."""

    def __init__(self, position: int = 1) -> None:
        self.calls = 0
        self.position = position
        self.value = b"v1"

    async def __call__(self) -> tuple[bytes, int]:
        self.calls += 1
        await asyncio.sleep(0.05)
        return self.value, self.position


async def test_a_stampede_on_a_missing_key_computes_once_across_processes(redis: Any) -> None:
    p = prefix()
    first, second = Cache(redis, p), Cache(redis, p)  # two processes' caches
    source = Source()
    values = await asyncio.gather(*(c.get("page", ["catalog:o1"], source) for c in [first, second] * 50))
    assert set(values) == {b"v1"}
    assert source.calls == 1
    await first.close()
    await second.close()


async def test_invalidation_reaches_the_copies_of_other_processes(redis: Any) -> None:
    p = prefix()
    reader, projector = Cache(redis, p), Cache(redis, p)
    source = Source()
    await reader.get("page", ["catalog:o1"], source)
    await wait_until(lambda: _subscribed(reader), within=10, what="the reader to subscribe")
    await reader.get("page", ["catalog:o1"], source)  # now also copied in memory
    await reader.get("page", ["catalog:o1"], source)
    assert source.calls == 1
    assert reader.hits == 2

    source.value = b"v2"
    await projector.invalidate(["catalog:o2"])  # another tag: nothing changes
    await projector.invalidate(["catalog:o1"])

    async def fresh() -> bool:
        return await reader.get("page", ["catalog:o1"], source) == b"v2"

    await wait_until(fresh, within=10, what="the invalidation to reach the reader")
    assert source.calls == 2
    await reader.close()
    await projector.close()


async def _subscribed(cache: Cache) -> bool:
    return cache._subscribed


async def test_a_value_older_than_the_asked_position_is_recomputed(redis: Any) -> None:
    cache = Cache(redis, prefix())
    old = Source(position=5)
    assert await cache.get("page", ["t"], old) == b"v1"
    newer = Source(position=9)
    newer.value = b"v9"
    assert await cache.get("page", ["t"], newer, min_position=7) == b"v9"
    assert await cache.get("page", ["t"], old, min_position=9) == b"v9"  # the stored one is new
    assert old.calls == 1
    assert newer.calls == 1
    await cache.close()


async def test_without_redis_every_lookup_computes(redis: Any) -> None:
    cache = Cache(None, prefix())
    source = Source()
    await cache.get("page", ["t"], source)
    await cache.get("page", ["t"], source)
    assert source.calls == 2


async def test_every_key_the_cache_writes_expires(redis: Any) -> None:
    p = prefix()
    cache = Cache(redis, p)
    await cache.get("page", ["catalog:o1", "course:c1"], Source())
    await cache.invalidate(["catalog:o1", "course:c1"])
    keys = [key async for key in redis.scan_iter(match=f"{p}:*")]
    assert any(b":gen:" in key for key in keys)
    assert {key: await redis.ttl(key) for key in keys if await redis.ttl(key) < 0} == {}
    await cache.close()
