"""The relay on the real services: order, headers, crashes, NATS outages, standbys, bad events."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import nats
import psycopg
import pytest
from nats.aio.msg import Msg
from nats.js.api import StorageType, StreamConfig

from infra.eventlog import Commit, EventMeta, NewEvent, StreamWrite
from infra.eventlog.postgres import PostgresEventStore
from infra.eventlog.publisher import Publisher, PublishRejected
from infra.nats import NatsConnector
from infra.relay import EXPECTED_LAST_MSG_ID, RELAY_ERROR, Relay
from infra.settings import Settings
from schemas.envelope import EventEnvelope, Headers
from tests.conftest import make_settings
from tests.integration.private_servers import PrivateNats

ROOT = Path(__file__).resolve().parents[2]


# -- fixtures and helpers -------------------------------------------------------------------


@pytest.fixture
async def own(fresh_database: str) -> AsyncIterator[tuple[Settings, PostgresEventStore]]:
    """Settings on an empty log with a private stream, and a store on it; the stream is deleted."""
    settings = make_settings(fresh_database, relay_poll_seconds=0.2)
    store = PostgresEventStore(fresh_database)
    await store.start()
    yield settings, store
    await store.close()
    await _delete_stream(settings)


async def _delete_stream(settings: Settings) -> None:
    with contextlib.suppress(Exception):
        nc = await nats.connect(settings.nats_url, allow_reconnect=False, connect_timeout=1)
        try:
            await nc.jetstream().delete_stream(settings.events_stream)
        except Exception:
            pass
        finally:
            await nc.close()


def _meta(causation: str | None = None) -> EventMeta:
    return EventMeta(
        occurred_at=datetime.now(UTC),
        correlation_id=str(uuid.uuid4()),
        actor_id="u1",
        org_id="o1",
        causation_id=causation,
    )


def _commit(n: int, stream_type: str = "course", kind: str = "Happened", **meta: Any) -> Commit:
    events = [NewEvent(uuid.uuid4(), kind, b'{"n": %d}' % i) for i in range(n)]
    return Commit([StreamWrite(uuid.uuid4(), stream_type, 0, events)], _meta(**meta))


async def _append(store: PostgresEventStore, events: int, per_commit: int = 3) -> None:
    """Append `events` events, several commits at once."""
    sizes = [min(per_commit, events - i) for i in range(0, events, per_commit)]
    for i in range(0, len(sizes), 20):
        await asyncio.gather(*(store.append(_commit(k)) for k in sizes[i : i + 20]))


async def _until(predicate: Callable[[], bool], interval: float = 0.02) -> None:
    while True:
        if predicate():
            return
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def _running(settings: Settings) -> AsyncIterator[Relay]:
    relay = Relay(settings, NatsConnector(settings))
    task = asyncio.create_task(relay.run())
    try:
        yield relay
    finally:
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=10)
        assert done, "relay did not stop on cancel"
        assert task.cancelled(), task.exception()


async def _stream_messages(settings: Settings) -> int:
    nc = await nats.connect(settings.nats_url)
    try:
        return (await nc.jetstream().stream_info(settings.events_stream)).state.messages
    finally:
        await nc.close()


async def _consume(settings: Settings, count: int) -> list[Msg]:
    """Every message of the stream from the start; asserts the stream holds exactly `count`."""
    nc = await nats.connect(settings.nats_url)
    try:
        js = nc.jetstream()
        sub = await js.subscribe(f"{settings.subject_prefix}.evt.>", ordered_consumer=True)
        msgs = [await sub.next_msg(timeout=10) for _ in range(count)]
        await sub.unsubscribe()
        assert (await js.stream_info(settings.events_stream)).state.messages == count
        return msgs
    finally:
        await nc.close()


def _assert_log_order(msgs: list[Msg], head: int) -> None:
    """Positions 1..head, each once, each message chained to the one before it."""
    positions = [int(m.headers[Headers.POSITION]) for m in msgs]  # type: ignore[index]
    assert positions == list(range(1, head + 1))
    ids = [m.headers[Headers.MSG_ID] for m in msgs]  # type: ignore[index]
    assert len(set(ids)) == len(ids)


# -- the happy path ---------------------------------------------------------------------------


async def test_publishes_every_event_in_order_with_subjects_headers_and_envelope(
    own: tuple[Settings, PostgresEventStore],
) -> None:
    settings, store = own
    async with asyncio.timeout(60):
        await store.append(_commit(3, "course", "CourseCreated", causation="cmd-1"))
        await store.append(_commit(2, "enrollment", "LearnerEnrolled"))
        await _append(store, 40)
        async with _running(settings) as relay:
            await _until(lambda: relay.position == 45)
            # Live: appended while the relay runs, woken by NOTIFY.
            await store.append(_commit(5, "review", "ReviewRequested", causation="cmd-2"))
            await _until(lambda: relay.position == 50)
            assert relay.published == 50
            assert relay.lag() == 0
            await _until(lambda: relay.position == 50)
        stored = await store.read_log(0, 100)
        msgs = await _consume(settings, 50)

    _assert_log_order(msgs, 50)
    previous: str | None = None
    for msg, event in zip(msgs, stored, strict=True):
        h = msg.headers or {}
        assert msg.subject == f"{settings.subject_prefix}.evt.{event.stream_type}.{event.event_type}"
        assert h[Headers.MSG_ID] == str(event.event_id)
        assert h[Headers.POSITION] == str(event.position)
        assert h.get(EXPECTED_LAST_MSG_ID) == previous
        assert set(h) <= {Headers.MSG_ID, Headers.POSITION, EXPECTED_LAST_MSG_ID}  # the rest is in the body
        previous = str(event.event_id)
        env = msgspec.json.decode(msg.data, type=EventEnvelope)
        assert env == event
        assert env.stream_id == event.stream_id
        assert (env.stream_type, env.event_type) == (event.stream_type, event.event_type)
        assert (env.version, env.schema_version) == (event.version, event.schema_version)
        assert env.occurred_at == event.occurred_at
        assert (env.actor_id, env.org_id) == (event.actor_id, event.org_id)
        assert (env.correlation_id, env.causation_id) == (event.correlation_id, event.causation_id)
        assert env == event  # the envelope as stored is the envelope as published

    async with await psycopg.AsyncConnection.connect(settings.pg_dsn) as conn:
        cur = await conn.execute("SELECT position FROM cw_relay_checkpoint WHERE name = %s", [settings.events_stream])
        assert await cur.fetchone() == (50,)


async def test_restart_resumes_from_the_stream_not_the_checkpoint(
    own: tuple[Settings, PostgresEventStore],
) -> None:
    settings, store = own
    async with asyncio.timeout(60):
        await _append(store, 30)
        async with _running(settings) as relay:
            await _until(lambda: relay.position == 30)
        # A stale checkpoint must not cause re-publishing: the stream is the truth.
        async with await psycopg.AsyncConnection.connect(settings.pg_dsn, autocommit=True) as conn:
            await conn.execute("UPDATE cw_relay_checkpoint SET position = 3")
        await _append(store, 20)
        async with _running(settings) as relay:
            await _until(lambda: relay.position == 50)
            assert relay.published == 20
        _assert_log_order(await _consume(settings, 50), 50)


async def test_jetstream_keeps_the_chain_refusing_gaps_and_replays(
    own: tuple[Settings, PostgresEventStore],
) -> None:
    """What the ordering guarantee rests on, checked against the server we run on."""
    settings, _ = own
    nc = await nats.connect(settings.nats_url)
    try:
        js = nc.jetstream()
        await js.add_stream(
            StreamConfig(
                name=settings.events_stream,
                subjects=[f"{settings.subject_prefix}.evt.>"],
                storage=StorageType.FILE,
                duplicate_window=120,
            )
        )
        pipe = Publisher(nc, 16)
        await pipe.start()
        subject = f"{settings.subject_prefix}.evt.x.Y"

        async def send(tag: int, msg_id: str, expected: str | None) -> None:
            headers = {"Nats-Msg-Id": msg_id}
            if expected:
                headers[EXPECTED_LAST_MSG_ID] = expected
            await pipe.publish(subject, b"{}", headers, tag)

        async with asyncio.timeout(20):
            # 1 and 2 stored; 2 again (a replay) is a duplicate though its expectation is stale.
            await send(1, "a", None)
            await send(2, "b", "a")
            await send(3, "b", "a")
            await pipe.drain()
            assert (pipe.acked_tag, pipe.stored, pipe.duplicates) == (3, 2, 1)
            # 4 expects a predecessor the stream does not end with: refused, and so is 5.
            await send(4, "d", "c")
            await send(5, "e", "d")
            with pytest.raises(PublishRejected) as info:
                await pipe.drain()
            assert info.value.tag == 4
            assert info.value.err_code == 10070
            await pipe.close()
        assert (await js.stream_info(settings.events_stream)).state.messages == 2
    finally:
        await nc.close()


# -- crashes ----------------------------------------------------------------------------------


def _relay_process(settings: Settings, log_path: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CW_ENV": "test",
        "CW_PG_DSN": settings.pg_dsn,
        "CW_NATS_URL": settings.nats_url,
        "CW_EVENTS_STREAM": settings.events_stream,
        "CW_SUBJECT_PREFIX": settings.subject_prefix,
        "CW_RELAY_BATCH": "64",
        "CW_RELAY_WINDOW": "256",
        "CW_RELAY_POLL_SECONDS": "0.2",
    }
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "run", "relay"], cwd=ROOT, env=env, stdout=log, stderr=log
        )


async def test_sigkilled_relay_restarts_and_every_event_arrives_once_in_order(
    own: tuple[Settings, PostgresEventStore], tmp_path: Path
) -> None:
    settings, store = own
    total = 3000
    log_path = tmp_path / "relay.log"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        async with asyncio.timeout(90):
            procs.append(_relay_process(settings, log_path))

            async def writer(k: int) -> None:
                for i in range(100):
                    await store.append(_commit(1 + (i + k) % 2))
                    await asyncio.sleep(0.01)

            await _until_stream_has(settings, 0)  # the relay is up: it created the stream
            # 20 writers x 100 commits of 1 or 2 events = 3000 events, over a second or two.
            writers = asyncio.gather(*(writer(k) for k in range(20)))
            await _until_stream_has(settings, 600)
            procs[0].send_signal(signal.SIGKILL)
            procs[0].wait(timeout=10)
            at_kill = await _stream_messages(settings)
            assert not writers.done(), "the log was complete before the kill: test too slow"
            await writers
            assert await store.head() == total
            assert at_kill < total, "the relay published everything before it was killed"

            procs.append(_relay_process(settings, log_path))
            await _until_stream_has(settings, total)
            msgs = await _consume(settings, total)
            procs[1].send_signal(signal.SIGTERM)
            assert procs[1].wait(timeout=10) == 0, "relay did not exit cleanly on SIGTERM"
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    _assert_log_order(msgs, total)


async def _until_stream_has(settings: Settings, count: int) -> None:
    while True:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            if await _stream_messages(settings) >= count:
                return
        await asyncio.sleep(0.02)


# -- NATS outages -----------------------------------------------------------------------------


@pytest.fixture
def private_nats(tmp_path: Path) -> Iterator[PrivateNats]:
    server = PrivateNats(tmp_path / "jetstream")
    yield server
    server.stop()


async def test_nats_outage_blocks_no_append_and_loses_nothing(fresh_database: str, private_nats: PrivateNats) -> None:
    await private_nats.start()
    settings = make_settings(fresh_database, nats_url=private_nats.url, relay_poll_seconds=0.2)
    store = PostgresEventStore(fresh_database)
    await store.start()
    try:
        async with asyncio.timeout(90), _running(settings) as relay:
            await _append(store, 200)
            await _until(lambda: relay.position == 200)
            # Crash the server while a burst is being published.
            burst = asyncio.create_task(_append(store, 600))
            await _until(lambda: relay.position > 200)
            private_nats.stop(signal.SIGKILL)
            in_flight = await store.head() - relay.position  # at most this many sent, not acked
            await burst
            async with asyncio.timeout(10):  # commands go on while NATS is down
                await _append(store, 200)
            assert await store.head() == 1000
            await _until(lambda: relay.lag() > 0)
            await asyncio.sleep(1.0)  # the relay retries meanwhile
            assert relay.position < 1000
            await private_nats.start()
            await _until(lambda: relay.position == 1000)
            # Acks counted: the messages the server stored just before it was killed (some of
            # those in flight) are never acked; the relay finds them by reconciling instead.
            assert 1000 - in_flight <= relay.published <= 1000
        _assert_log_order(await _consume(settings, 1000), 1000)  # each event once, in log order
    finally:
        await store.close()


async def test_server_restart_after_the_duplicate_window_restarts_the_chain(
    fresh_database: str, private_nats: PrivateNats
) -> None:
    """NATS 2.9 forgets the last message id on restart once it is older than the window."""
    await private_nats.start()
    settings = make_settings(fresh_database, nats_url=private_nats.url, relay_poll_seconds=0.2)
    nc = await nats.connect(settings.nats_url)
    await nc.jetstream().add_stream(
        StreamConfig(
            name=settings.events_stream,
            subjects=[f"{settings.subject_prefix}.evt.>"],
            storage=StorageType.FILE,
            duplicate_window=0.5,
        )
    )
    await nc.close()
    store = PostgresEventStore(fresh_database)
    await store.start()
    try:
        async with asyncio.timeout(60), _running(settings) as relay:
            await _append(store, 50)
            await _until(lambda: relay.position == 50)
            private_nats.stop(signal.SIGTERM)
            await asyncio.sleep(1.0)
            await private_nats.start()
            await _append(store, 50)
            await _until(lambda: relay.position == 100)
        _assert_log_order(await _consume(settings, 100), 100)
    finally:
        await store.close()


# -- one publisher, and a bad event ------------------------------------------------------------


async def test_second_relay_waits_as_standby_and_takes_over(
    own: tuple[Settings, PostgresEventStore],
) -> None:
    settings, store = own
    async with asyncio.timeout(60):
        standby = Relay(settings, NatsConnector(settings))
        async with _running(settings) as first:
            await _until(lambda: first.active)
            standby_task = asyncio.create_task(standby.run())
            try:
                await _append(store, 100)
                await _until(lambda: first.position == 100)
                await asyncio.sleep(0.5)
                assert not standby.active
                assert standby.published == 0
            except BaseException:
                standby_task.cancel()
                raise
        try:
            await _append(store, 100)
            await _until(lambda: standby.position == 200)
            assert standby.active
            assert standby.published == 100
        finally:
            standby_task.cancel()
            await asyncio.gather(standby_task, return_exceptions=True)
        _assert_log_order(await _consume(settings, 200), 200)


async def test_an_unpublishable_event_becomes_a_stand_in_and_the_rest_flows(
    own: tuple[Settings, PostgresEventStore],
) -> None:
    settings, store = own
    huge = b'{"blob": "' + b"x" * (2 << 20) + b'"}'  # over the server's 1 MB message limit
    async with asyncio.timeout(60):
        await _append(store, 5)
        await store.append(
            Commit(
                [StreamWrite(uuid.uuid4(), "bad type.x", 0, [NewEvent(uuid.uuid4(), "Big", huge)])],
                _meta(),
            )
        )
        await _append(store, 5)
        async with _running(settings) as relay:
            await _until(lambda: relay.position == 11)
        msgs = await _consume(settings, 11)
    _assert_log_order(msgs, 11)
    bad = msgs[5]
    assert bad.subject == f"{settings.subject_prefix}.evt.bad_type_x.Big"
    assert "too large" in (bad.headers or {})[RELAY_ERROR]
    env = msgspec.json.decode(bad.data, type=EventEnvelope)
    assert (env.position, env.stream_type, bytes(env.payload)) == (6, "bad type.x", b"null")
    assert all(RELAY_ERROR not in (m.headers or {}) for m in msgs if m is not bad)
