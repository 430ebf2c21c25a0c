"""What every query needs: the connection pool, the cache, and bounded read-your-writes."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

import psycopg
from psycopg import sql

from infra.cache import Cache
from infra.errors import Unavailable
from projections.errors import ProjectionBehind
from schemas.access import QUERIES, Query, Reach


class Viewer(Protocol):
    """Who asks (gateway.auth.Caller fits)."""

    @property
    def user_id(self) -> UUID: ...
    @property
    def org_id(self) -> UUID: ...
    @property
    def roles(self) -> frozenset[str]: ...


def reach(viewer: Viewer, query: Query, org_id: UUID) -> Reach:
    """How far `query` lets the viewer into organisation `org_id` (`schemas.access.QUERIES`).

    The viewer's roles are those of their own organisation: in any other they reach nothing.
    """
    found = QUERIES[query].reach(viewer.roles)
    return found if found is Reach.PLATFORM or viewer.org_id == org_id else Reach.NONE


@dataclass
class Reader:
    """Queries over the read models; one per process, built from the shared adapters."""

    pool: Any  # psycopg_pool.AsyncConnectionPool (autocommit connections)
    cache: Cache | None = None
    wait_seconds: float = 5.0  # how long a read-your-writes query waits at most

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        """A pooled connection; database failures come out as our own errors."""
        try:
            async with self.pool.connection() as conn:
                yield conn
        except psycopg.errors.UndefinedTable as e:
            raise Unavailable("read_models", "the read models are not built yet") from e
        except psycopg.OperationalError as e:
            raise Unavailable("postgres", str(e)) from e

    async def checkpoint(self, conn: Any, projection: str) -> int:
        cur = await conn.execute(
            sql.SQL("SELECT position FROM {}.checkpoint").format(sql.Identifier(f"rm_{projection}"))
        )
        row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def reach(self, projection: str, position: int | None) -> int:
        """Wait, bounded, until the projection applied `position`; its checkpoint.

        Without a position nothing is waited for and no query is made (0 is returned).
        """
        if position is None:
            return 0
        started = time.monotonic()
        pause = 0.001
        async with self.connection() as conn:
            while True:
                try:
                    reached = await self.checkpoint(conn, projection)
                except psycopg.errors.UndefinedTable:
                    reached = 0  # the projector is creating its tables: wait for it too
                    if not conn.autocommit:
                        await conn.rollback()
                if reached >= position:
                    return reached
                waited = time.monotonic() - started
                if waited >= self.wait_seconds:
                    raise ProjectionBehind(projection, position, reached, waited)
                await asyncio.sleep(min(pause, self.wait_seconds - waited))
                pause = min(pause * 2, 0.025)

    async def cached(
        self,
        key: str,
        tags: list[str],
        compute: Callable[[], Awaitable[tuple[bytes, int]]],
        position: int | None,
    ) -> bytes:
        if self.cache is None:
            return (await compute())[0]
        return await self.cache.get(key, tags, compute, min_position=position or 0)
