"""Run every projector of the system side by side (what `coursewright up` starts)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

from infra.cache import Cache
from infra.logging import get_logger
from infra.settings import Settings
from projections.model import Projection
from projections.projector import run_projector
from projections.registry import PROJECTIONS

log = get_logger(__name__)


def cache_prefix(settings: Settings) -> str:
    return f"{settings.subject_prefix}:q"


async def open_redis(settings: Settings) -> Any | None:
    """A Redis client for the query cache, or None when Redis is not reachable (cache off)."""
    if not settings.redis_url:
        return None
    import redis.asyncio as redis_asyncio

    # Blocking pool: under a burst callers wait for a connection instead of failing.
    pool = redis_asyncio.BlockingConnectionPool.from_url(settings.redis_url, max_connections=64)
    client = redis_asyncio.Redis(connection_pool=pool)
    try:
        await client.ping()
    except Exception as e:
        log.warning("cache.off", error=repr(e))
        await client.aclose()
        return None
    return client


async def run_projectors(settings: Settings, names: Iterable[str] | None = None) -> None:
    """Run all projectors (or the named ones) until cancelled."""
    wanted: list[type[Projection]] = [PROJECTIONS[n] for n in (names if names is not None else PROJECTIONS)]
    redis = await open_redis(settings)
    cache = Cache(redis, cache_prefix(settings)) if redis is not None else None
    try:
        async with asyncio.TaskGroup() as group:
            for projection in wanted:
                group.create_task(run_projector(settings, projection, cache), name=f"projector:{projection.name}")
    finally:
        if cache is not None:
            await cache.close()
        if redis is not None:
            with contextlib.suppress(Exception):
                await redis.aclose()


def main() -> None:
    """`python -m projections.workers [NAME...]`: run projectors in this process."""
    import sys

    from infra.logging import configure_logging

    settings = Settings()
    configure_logging(settings.log_level, settings.json_logs)
    names = sys.argv[1:] or None
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_projectors(settings, names))


if __name__ == "__main__":
    main()
