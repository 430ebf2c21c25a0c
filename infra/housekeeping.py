"""Periodic clean-up: the one loop every clean-up job runs in (`repeat`), and the purge of records
that expire (idempotency replies, old refresh tokens, revocations no token needs any more)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import psycopg
from psycopg_pool import AsyncConnectionPool

from infra.errors import Unavailable
from infra.logging import get_logger

log = get_logger(__name__)

_OUTAGES = (Unavailable, psycopg.Error, OSError)


async def repeat(job: Callable[[], Awaitable[None]], every: float, *, name: str) -> None:
    """Run `job` now and then every `every` seconds until cancelled.

    A failed round is logged and the next one runs as planned: a clean-up that failed once (a
    server down, or a bug hit by one odd record) must not stop for the life of the process.
    """
    while True:
        try:
            await job()
        except _OUTAGES as e:
            log.warning("housekeeping.round_failed", job=name, error=str(e))
        except Exception:
            log.exception("housekeeping.round_failed", job=name)
        await asyncio.sleep(every)


async def purge_expired(pool: AsyncConnectionPool, idempotency_ttl: timedelta) -> tuple[int, int]:
    """Delete idempotency records older than the TTL, refresh tokens expired a day ago and
    revocations no token needs any more; returns the counts (idempotency, refresh tokens)."""
    async with pool.connection() as conn:
        cur = await conn.execute("DELETE FROM cw_idempotency WHERE created_at < now() - %s", [idempotency_ttl])
        replies = cur.rowcount
        cur = await conn.execute("DELETE FROM cw_refresh_tokens WHERE expires_at < now() - interval '1 day'")
        tokens = cur.rowcount
        await conn.execute("DELETE FROM cw_revoked_signins WHERE expires_at < now()")
        return replies, tokens


async def purge_forever(pool: AsyncConnectionPool, idempotency_ttl: timedelta, every: float = 600.0) -> None:
    """Purge now and then every `every` seconds until cancelled."""

    async def purge() -> None:
        replies, tokens = await purge_expired(pool, idempotency_ttl)
        if replies or tokens:
            log.info("housekeeping.purged", idempotency=replies, refresh_tokens=tokens)

    await repeat(purge, every, name="purge")
