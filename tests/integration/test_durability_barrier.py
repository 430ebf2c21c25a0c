"""Nothing leaves the database before it is on disk: the log reader's barrier, and the relay on it.

These run on a PostgreSQL server of their own whose WAL writer sleeps 10 s, so that an event
committed asynchronously stays unflushed until someone flushes it (on the shared server, any
other synchronous commit would flush it and hide a missing barrier).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import nats
import psycopg
import pytest

from infra.devservices import start_postgres
from infra.eventlog.reader import LogReader
from infra.migrate import migrate
from infra.nats import NatsConnector
from infra.relay import Relay
from tests.conftest import make_settings, server_data_dir


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def lazy_wal_server() -> Iterator[str]:
    """A private server whose WAL writer flushes asynchronous commits only every 10 s; its DSN base."""
    with server_data_dir("lazy-wal") as data_dir:
        proc, base = start_postgres(data_dir, _free_port(), data_dir)
        try:
            with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
                conn.execute("ALTER SYSTEM SET wal_writer_delay = '10s'")
                conn.execute("ALTER SYSTEM SET wal_writer_flush_after = '16MB'")
                conn.execute("SELECT pg_reload_conf()")
                conn.execute("CREATE DATABASE barrier")
            yield base
        finally:
            proc.stop()


@pytest.fixture
async def lazy_wal_db(lazy_wal_server: str) -> str:
    dsn = f"{lazy_wal_server}/barrier"
    await migrate(dsn)
    return dsn


async def _commit_without_flush(dsn: str) -> tuple[int, str]:
    """Append one event the way the store's writer does while others wait (no fsync awaited);
    returns its position and the WAL position of its commit."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True, options="-c synchronous_commit=off") as conn:
        async with conn.transaction():
            cur = await conn.execute("UPDATE cw_log_head SET position = position + 1 WHERE id = 1 RETURNING position")
            row = await cur.fetchone()
            assert row is not None
            position = int(row[0])
            await conn.execute(
                "INSERT INTO cw_events (position, event_id, stream_id, stream_type, version, event_type,"
                " schema_version, occurred_at, correlation_id, payload, prev_hash, hash)"
                " VALUES (%s, %s, %s, 'thing', 1, 'ThingHappened', 1, now(), 'barrier', '{}', %s, %s)",
                [position, uuid.uuid4(), uuid.uuid4(), bytes(32), uuid.uuid4().bytes * 2],
            )
        cur = await conn.execute("SELECT pg_current_wal_insert_lsn()::text")
        lsn = await cur.fetchone()
        assert lsn is not None
        return position, str(lsn[0])


async def _flushed(conn: psycopg.AsyncConnection[Any], lsn: str) -> bool:
    cur = await conn.execute("SELECT pg_current_wal_flush_lsn() >= %s::pg_lsn", [lsn])
    row = await cur.fetchone()
    return bool(row and row[0])


async def test_the_log_reader_returns_an_event_only_once_it_is_on_disk(lazy_wal_db: str) -> None:
    position, lsn = await _commit_without_flush(lazy_wal_db)
    async with await psycopg.AsyncConnection.connect(lazy_wal_db, autocommit=True) as conn:
        assert not await _flushed(conn, lsn), "the server flushed on its own: the test proves nothing"
        inside = await LogReader(conn, barrier=False).read(position - 1)
        assert [e.position for e in inside] == [position]
        assert not await _flushed(conn, lsn)  # a reader inside the database needs no barrier
        events = await LogReader(conn).read(position - 1)
        assert [e.position for e in events] == [position]
        assert await _flushed(conn, lsn)


async def test_the_relay_publishes_nothing_a_crash_could_take_back(lazy_wal_db: str) -> None:
    settings = make_settings(lazy_wal_db, relay_poll_seconds=0.2)
    nc = await nats.connect(settings.nats_url)
    received: asyncio.Queue[int] = asyncio.Queue()

    async def on_message(msg: Any) -> None:
        received.put_nowait(int(msg.headers["Cw-Position"]))

    await nc.subscribe(f"{settings.subject_prefix}.evt.>", cb=on_message)
    relay_task = asyncio.create_task(Relay(settings, NatsConnector(settings)).run())
    try:
        async with await psycopg.AsyncConnection.connect(lazy_wal_db, autocommit=True) as conn:
            for _ in range(3):
                position, lsn = await _commit_without_flush(lazy_wal_db)
                async with asyncio.timeout(20):
                    while (got := await received.get()) != position:
                        pass
                # The moment the event is out, its commit must be on disk.
                assert got == position and await _flushed(conn, lsn)
    finally:
        relay_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relay_task
        with contextlib.suppress(Exception):
            await nc.jetstream().delete_stream(settings.events_stream)
        await nc.close()
