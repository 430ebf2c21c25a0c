"""Ended sign-ins recorded in PostgreSQL and followed by every gateway process in memory."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import TypeVar
from uuid import UUID, uuid4

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from infra.availability import Availability
from infra.following import Followed
from infra.revocations import LISTENER, Revocations
from infra.tokens import InvalidToken, RefreshTokens, TokenReused

TTL = timedelta(minutes=15)
F = TypeVar("F", bound=Followed)


@pytest.fixture
async def pool(database: str) -> AsyncIterator[AsyncConnectionPool]:
    async with AsyncConnectionPool(database, min_size=1, max_size=4, kwargs={"autocommit": True}) as p:
        yield p


def process(pool: AsyncConnectionPool, database: str) -> Revocations:
    """The revocation list of one gateway process."""
    return Revocations(pool, database, TTL, Availability("postgres"))


async def eventually_revoked(revocations: Revocations, family: UUID) -> None:
    async with asyncio.timeout(10):
        while True:
            if revocations.is_revoked(family):
                return
            await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def following(revocations: F, poll_seconds: float = 5.0) -> AsyncIterator[F]:
    """`revocations` (or any followed table) followed for the block, loaded when it starts."""
    task = asyncio.create_task(revocations.follow(poll_seconds=poll_seconds, retry_seconds=0.05))
    try:
        async with asyncio.timeout(10):
            while True:
                if revocations.loaded:
                    break
                await asyncio.sleep(0.01)
        yield revocations
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_process_loads_the_revocations_made_before_it_started(pool: AsyncConnectionPool, database: str) -> None:
    family = uuid4()
    await process(pool, database).revoke([family])
    starting = process(pool, database)
    assert not starting.loaded
    await starting.load()
    assert starting.is_revoked(family)
    assert not starting.is_revoked(uuid4())


async def test_a_sign_out_elsewhere_reaches_a_following_process(pool: AsyncConnectionPool, database: str) -> None:
    # A poll far longer than the test: only the notification can bring it in time.
    async with following(process(pool, database), poll_seconds=3600) as here:
        family = uuid4()
        await process(pool, database).revoke([family])
        await eventually_revoked(here, family)


async def test_a_watched_sign_in_ends_here_or_elsewhere(pool: AsyncConnectionPool, database: str) -> None:
    """What watches a sign-in (an open notification stream) wakes when it ends: by this process,
    by another (the notification brings it), or before the watch began."""
    async with following(process(pool, database), poll_seconds=3600) as here:
        mine, theirs, over, going_on = uuid4(), uuid4(), uuid4(), uuid4()
        await here.revoke([over])
        with (
            here.watching(mine) as ended_here,
            here.watching(theirs) as ended_elsewhere,
            here.watching(over) as ended_before,
            here.watching(going_on) as not_ended,
        ):
            assert ended_before.is_set() and not ended_here.is_set() and not ended_elsewhere.is_set()
            await here.revoke([mine])
            assert ended_here.is_set()
            await process(pool, database).revoke([theirs])
            await asyncio.wait_for(ended_elsewhere.wait(), 10)
            assert not not_ended.is_set()


async def test_revocations_made_while_not_listening_are_caught_up(pool: AsyncConnectionPool, database: str) -> None:
    async with following(process(pool, database), poll_seconds=0.05) as here:
        async with await psycopg.AsyncConnection.connect(database, autocommit=True) as admin:
            # Every listener's connection goes; its notifications with it.
            cur = await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND application_name = %s",
                [LISTENER],
            )
            assert await cur.fetchall()
        family = uuid4()
        await process(pool, database).revoke([family])
        await eventually_revoked(here, family)


async def test_a_revocation_committed_after_a_later_read_is_not_missed(
    pool: AsyncConnectionPool, database: str
) -> None:
    here = process(pool, database)
    family = uuid4()
    async with await psycopg.AsyncConnection.connect(database) as slow:
        # A transaction that writes a revocation but commits only after the process has read
        # (and after a later revocation has committed): its row must still be read.
        await slow.execute(
            "INSERT INTO cw_revoked_signins (family, expires_at) VALUES (%s, now() + interval '15 minutes')",
            [family],
        )
        later = uuid4()
        await process(pool, database).revoke([later])
        await here.load()
        assert here.is_revoked(later) and not here.is_revoked(family)
        await slow.commit()
    await here.load()
    assert here.is_revoked(family)


async def test_ending_a_sign_in_revokes_its_refresh_tokens(pool: AsyncConnectionPool, database: str) -> None:
    refresh = RefreshTokens(pool, timedelta(days=1))
    token, family = await refresh.issue(uuid4(), uuid4())
    await process(pool, database).revoke([family])
    with pytest.raises(InvalidToken):
        await refresh.rotate(token)


async def test_a_rotation_racing_the_end_of_its_sign_in_leaves_no_live_token(
    pool: AsyncConnectionPool, database: str
) -> None:
    refresh = RefreshTokens(pool, timedelta(days=1))
    user = uuid4()
    token, family = await refresh.issue(user, uuid4())
    async with await psycopg.AsyncConnection.connect(database) as rotation:
        # A rotation in flight: it holds the family's lock and is about to insert the next token.
        await rotation.execute(
            "SELECT pg_advisory_xact_lock(7260045, hashtext(%s::text))",
            [family],
        )
        ending = asyncio.create_task(process(pool, database).revoke([family]))
        await asyncio.sleep(0.2)
        assert not ending.done()  # the end of the sign-in waits for the rotation
        await rotation.execute(
            "INSERT INTO cw_refresh_tokens (token_id, family, user_id, org_id, digest, expires_at)"
            " VALUES (%s, %s, %s, %s, %s, now() + interval '1 day')",
            [uuid4(), family, user, uuid4(), b"next"],
        )
        await rotation.commit()
        await ending
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM cw_refresh_tokens WHERE family = %s AND revoked_at IS NULL", [family]
        )
        assert await cur.fetchone() == (0,)
    with pytest.raises(InvalidToken):
        await refresh.rotate(token)


async def test_a_reused_refresh_token_is_told_apart(pool: AsyncConnectionPool) -> None:
    refresh = RefreshTokens(pool, timedelta(days=1))
    token, family = await refresh.issue(uuid4(), uuid4())
    await refresh.rotate(token)
    with pytest.raises(TokenReused) as reused:
        await refresh.rotate(token)
    assert reused.value.family == family


async def test_ending_every_sign_in_of_a_user(pool: AsyncConnectionPool, database: str) -> None:
    refresh = RefreshTokens(pool, timedelta(days=1))
    user = uuid4()
    (_, first), (_, second), (_, other) = [await refresh.issue(u, uuid4()) for u in (user, user, uuid4())]
    here = process(pool, database)
    assert sorted(await here.revoke_user(user)) == sorted([first, second])
    assert here.is_revoked(first) and here.is_revoked(second) and not here.is_revoked(other)
