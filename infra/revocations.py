"""Ended sign-ins: recorded in PostgreSQL, followed by every gateway process in memory.

A sign-in (a family of refresh tokens and the access tokens issued from them) ends at sign-out,
when a used refresh token is presented again, or when the user's password or memberships change.
Ending it revokes its refresh tokens and records it in `cw_revoked_signins` (migration 045), in
one transaction, and NOTIFYs `cw_revocations`. PostgreSQL is the only record: nothing is lost
when Redis, or a process, restarts.

Access tokens are checked on every request, so each process holds the live rows in memory:
it reads them all before it serves (`load`), then follows them (`follow`, `infra/following.py`):
LISTEN, and a read of the rows committed since the last read on every notification and every few
seconds in any case. A check is a
dictionary lookup: no round trip, and it holds while Redis or PostgreSQL is down.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import timedelta
from typing import Any
from uuid import UUID

import psycopg
from psycopg_pool import AsyncConnectionPool

from infra.availability import Availability
from infra.errors import Unavailable
from infra.following import Followed

CHANNEL = "cw_revocations"
LISTENER = "cw-revocations"  # application_name of the listening connections
# Clocks of several machines differ a little: a revocation outlives its sign-in's last access
# token by this much.
LEEWAY = timedelta(seconds=60)
# Ending a sign-in and rotating one of its refresh tokens take this transaction lock on the
# family (key space of two int4 keys: this class id and the family's hash), so a rotation that
# runs while the sign-in ends cannot leave a fresh refresh token behind.
LOCK_FAMILY_SQL = "pg_advisory_xact_lock(7260045, hashtext(family::text))"


class Revocations(Followed):
    """The ended sign-ins whose access tokens may still be presented, by family."""

    channel, listener, during = CHANNEL, LISTENER, "revocations"

    def __init__(self, pool: AsyncConnectionPool, dsn: str, access_ttl: timedelta, postgres: Availability) -> None:
        super().__init__(dsn, postgres)
        self._pool = pool
        self._keep = access_ttl + LEEWAY
        self._revoked: dict[UUID, float] = {}  # family -> time.time() after which it may go

    def is_revoked(self, family: UUID) -> bool:
        """True when the sign-in has ended (no I/O: read from this process's copy)."""
        return family in self._revoked

    def has_ended(self, key: UUID) -> bool:
        return self.is_revoked(key)

    # -- ending sign-ins ---------------------------------------------------------------------

    async def revoke(self, families: Iterable[UUID]) -> None:
        """End these sign-ins: their refresh and access tokens stop working."""
        ended = sorted(set(families))
        if not ended:
            return
        try:
            async with self._pool.connection() as conn, conn.transaction():
                await self._end(conn, ended)
        except psycopg.OperationalError as e:
            raise Unavailable("postgres", str(e)) from e
        self._remember(ended)

    async def revoke_user(self, user_id: UUID) -> list[UUID]:
        """End every sign-in of a user; returns the families ended."""
        try:
            async with self._pool.connection() as conn, conn.transaction():
                cur = await conn.execute(
                    "SELECT DISTINCT family FROM cw_refresh_tokens WHERE user_id = %s AND revoked_at IS NULL"
                    " ORDER BY family",
                    [user_id],
                )
                ended = [row[0] for row in await cur.fetchall()]
                await self._end(conn, ended)
        except psycopg.OperationalError as e:
            raise Unavailable("postgres", str(e)) from e
        self._remember(ended)
        return ended

    async def _end(self, conn: psycopg.AsyncConnection[Any], families: list[UUID]) -> None:
        if not families:
            return
        # Locks in family order (the list is sorted), so two revocations never deadlock.
        await conn.execute(f"SELECT {LOCK_FAMILY_SQL} FROM unnest(%s::uuid[]) AS family", [families])
        await conn.execute(
            "UPDATE cw_refresh_tokens SET revoked_at = now() WHERE family = ANY(%s) AND revoked_at IS NULL",
            [families],
        )
        await conn.execute(
            "INSERT INTO cw_revoked_signins (family, expires_at)"
            " SELECT family, now() + %s FROM unnest(%s::uuid[]) AS family ON CONFLICT (family) DO NOTHING",
            [self._keep, families],
        )
        await conn.execute(f"NOTIFY {CHANNEL}")

    def _remember(self, families: list[UUID]) -> None:
        """Committed: this process knows at once, before any notification comes back."""
        until = time.time() + self._keep.total_seconds()
        for family in families:
            self._revoked[family] = until
            self._ended(family)

    # -- following ---------------------------------------------------------------------------

    async def load(self) -> None:
        """Read every revocation committed since the last read (all of them the first time)."""
        async with self._pool.connection() as conn:
            await self._read(conn)

    async def _read(self, conn: psycopg.AsyncConnection[Any]) -> None:
        # One statement, so the fence is the xmin of the very snapshot the rows were read in.
        cur = await conn.execute(
            "SELECT pg_snapshot_xmin(pg_current_snapshot())::text, r.family, extract(epoch FROM r.expires_at)"
            " FROM (SELECT) AS here LEFT JOIN cw_revoked_signins AS r"
            " ON r.xid >= %s::text::xid8 AND r.expires_at > now()",
            [str(self._fence)],
        )
        rows = await cur.fetchall()
        for _, family, until in rows:
            if family is not None:
                self._revoked[family] = float(until)
                self._ended(family)
        self._fence = int(rows[0][0])
        self.loaded = True
        now = time.time()
        for family in [f for f, until in self._revoked.items() if until < now]:
            del self._revoked[family]  # its last access token has expired
