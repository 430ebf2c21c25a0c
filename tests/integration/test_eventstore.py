"""What only the PostgreSQL store does: group commit, durability, processes, held streams, tampering
(the behaviours it shares with the memory store are in test_eventstore_contract.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid

import psycopg

from infra.errors import ConcurrencyError
from infra.eventlog import Commit, NewEvent, StreamWrite
from infra.eventlog.hashing import GENESIS, event_hash
from infra.eventlog.postgres import PostgresEventStore
from tests.integration.eventstore_support import meta as _meta
from tests.integration.eventstore_support import write as _write


async def test_appends_waiting_at_once_are_written_as_one_group(store: PostgresEventStore) -> None:
    batches, commits = store.batches, store.commits
    # Every append is queued before the writer runs: gather starts the tasks in one go.
    await asyncio.gather(*(store.append(Commit([_write(uuid.uuid4(), 0)], _meta())) for _ in range(8)))
    assert (store.batches - batches, store.commits - commits) == (1, 8)


async def test_a_burst_stays_gap_free_and_in_commit_order(store: PostgresEventStore) -> None:
    start = await store.head()
    batches_before = store.batches
    streams = [uuid.uuid4() for _ in range(300)]
    results = await asyncio.gather(*(store.append(Commit([_write(s, 0, 2)], _meta())) for s in streams))
    ends = sorted(r.position for r in results)
    assert ends == list(range(start + 2, start + 601, 2))  # each commit's two events, no gaps
    log = [e for e in await store.read_log(start) if e.position <= start + 600]
    assert [e.position for e in log] == list(range(start + 1, start + 601))
    for first, second in zip(log[::2], log[1::2], strict=True):  # a commit's events stay together
        assert (first.stream_id, first.version, second.version) == (second.stream_id, 1, 2)
        assert second.prev_hash == first.hash
    assert store.batches - batches_before >= 2  # more than a group holds (batch_max): several groups


async def test_a_tampered_payload_no_longer_matches_its_hash(store: PostgresEventStore, database: str) -> None:
    a = uuid.uuid4()
    await store.append(Commit([_write(a, 0, 3)], _meta()))
    async with await psycopg.AsyncConnection.connect(database, autocommit=True) as conn:
        await conn.execute("UPDATE cw_events SET payload = '{\"n\": 99}' WHERE stream_id = %s AND version = 2", [a])
    auditor = PostgresEventStore(database)  # a reader of its own: no stream cache in the way
    await auditor.start()
    try:
        tampered = (await auditor.read_stream(a))[1]
    finally:
        await auditor.close()
    assert (
        tampered.hash
        != event_hash(
            bytes.fromhex(tampered.prev_hash),
            event_id=tampered.event_id,
            stream_id=tampered.stream_id,
            version=tampered.version,
            event_type=tampered.event_type,
            schema_version=tampered.schema_version,
            occurred_at=tampered.occurred_at,
            actor_id=tampered.actor_id,
            org_id=tampered.org_id,
            correlation_id=tampered.correlation_id,
            causation_id=tampered.causation_id,
            payload=bytes(tampered.payload),
        ).hex()
    )


async def test_an_acknowledged_append_is_on_disk(store: PostgresEventStore, database: str) -> None:
    """The writer commits asynchronously; the reply must still wait for the WAL flush."""
    async with await psycopg.AsyncConnection.connect(database, autocommit=True) as conn:
        for _ in range(20):
            cur = await conn.execute("SELECT pg_current_wal_insert_lsn()")
            before = (await cur.fetchone())[0]
            await store.append(Commit([_write(uuid.uuid4(), 0)], _meta()))
            cur = await conn.execute("SELECT pg_current_wal_flush_lsn() >= %s::pg_lsn", [before])
            assert (await cur.fetchone())[0]


# -- read-set validation and the held streams ---------------------------------------------------


async def test_reads_are_checked_against_commits_of_other_processes(database: str) -> None:
    """Two stores (two processes' worth of writers) race: one keeps moving stream R on, the other
    commits decisions that read R. Every decision that committed saw R's version of its moment."""
    mover, readers = PostgresEventStore(database), PostgresEventStore(database)
    await mover.start()
    await readers.start()
    r = uuid.uuid4()
    try:
        await mover.append(Commit([_write(r, 0)], _meta()))

        async def move() -> None:
            for _ in range(60):
                stored = await mover.read_stream(r)
                with contextlib.suppress(ConcurrencyError):
                    await mover.append(Commit([_write(r, len(stored), 1, bytes.fromhex(stored[-1].hash))], _meta()))

        async def decide() -> None:
            for _ in range(40):
                while True:
                    seen = len(await readers.read_stream(r))
                    event = NewEvent(uuid.uuid4(), "DecisionTaken", b'{"saw": %d}' % seen)
                    write = StreamWrite(uuid.uuid4(), "decision", 0, [event], GENESIS)
                    try:
                        await readers.append(Commit([write], _meta(), reads=[(r, seen)]))
                        break
                    except ConcurrencyError:
                        continue

        await asyncio.gather(move(), *(decide() for _ in range(6)))
        r_positions = {e.version: e.position for e in await mover.read_stream(r)}
        decisions = [e for e in await mover.read_log(r_positions[1]) if e.event_type == "DecisionTaken"]
        assert len(decisions) == 240
        for d in decisions:
            saw = json.loads(bytes(d.payload))["saw"]
            assert r_positions[saw] < d.position  # what it saw was there ...
            assert r_positions.get(saw + 1, d.position + 1) > d.position  # ... and nothing newer yet
    finally:
        await mover.close()
        await readers.close()


async def test_committed_streams_are_held_exactly_as_stored(store: PostgresEventStore, database: str) -> None:
    a = uuid.uuid4()
    await store.append(Commit([_write(a, 0, 2)], _meta()))
    held = store.cached_streams([a, uuid.uuid4()])
    assert list(held) == [a]
    link = bytes.fromhex(held[a][-1].hash)
    await store.append(Commit([_write(a, 2, 1, link)], _meta()))

    other = PostgresEventStore(database)  # a process that holds nothing reads them from the table
    await other.start()
    try:
        assert store.cached_streams([a])[a] == await other.read_stream(a)
        assert other.cached_streams([uuid.uuid4()]) == {}
    finally:
        await other.close()
