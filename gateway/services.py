"""The running system's shared adapters, built from settings by one factory (nothing at import)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from commands.bus import CommandBus
from commands.routes import ROUTES
from infra.availability import Dependencies
from infra.eventlog.postgres import PostgresEventStore
from infra.logging import get_logger
from infra.settings import Settings

log = get_logger(__name__)


@dataclass
class Services:
    """Adapters shared by the HTTP app and the workers of one process."""

    settings: Settings
    store: PostgresEventStore
    bus: CommandBus
    redis: Any | None = None  # redis.asyncio.Redis, None when the cache is off
    dependencies: Dependencies = field(default_factory=Dependencies)  # what answers, as last seen
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def pool(self) -> Any:
        """The PostgreSQL connection pool (psycopg_pool.AsyncConnectionPool) for queries."""
        return self.store.pool

    @classmethod
    async def start(cls, settings: Settings) -> Services:
        store = PostgresEventStore(
            settings.pg_dsn,
            batch_max=settings.append_batch_max,
            writers=settings.append_writers,
            pool_min=settings.pg_pool_min,
            pool_max=settings.pg_pool_max,
        )
        await store.start()
        redis_client = None
        if settings.redis_url:
            import redis.asyncio as redis_asyncio

            # A blocking pool: a burst waits briefly for a connection instead of failing.
            pool = redis_asyncio.BlockingConnectionPool.from_url(settings.redis_url, max_connections=128, timeout=5)
            redis_client = redis_asyncio.Redis(connection_pool=pool)
            try:
                await redis_client.ping()
            except Exception as e:  # the cache is optional: run without it
                log.warning("redis.unavailable", error=str(e))
                await redis_client.aclose()
                redis_client = None
        bus = CommandBus(store, ROUTES, retries=settings.command_retries)
        return cls(settings=settings, store=store, bus=bus, redis=redis_client)

    async def close(self) -> None:
        if self.redis is not None:
            with contextlib.suppress(Exception):
                await self.redis.aclose()
                await self.redis.connection_pool.disconnect()
        await self.store.close()
