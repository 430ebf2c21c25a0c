"""Periodic clean-up of records that expire: idempotency replies, old refresh tokens and the
revocations of sign-ins whose last access token has expired."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import psycopg
from psycopg_pool import AsyncConnectionPool

from infra.logging import get_logger

log = get_logger(__name__)


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
    """Purge now and then every `every` seconds until cancelled; a failed round is logged."""
    while True:
        try:
            replies, tokens = await purge_expired(pool, idempotency_ttl)
            if replies or tokens:
                log.info("housekeeping.purged", idempotency=replies, refresh_tokens=tokens)
        except (psycopg.Error, OSError) as e:
            log.warning("housekeeping.failed", error=str(e))
        await asyncio.sleep(every)
