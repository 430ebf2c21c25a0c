"""The event store's contract: every behaviour the in-memory store shares with PostgreSQL, run
against both, so that a test on the memory store says something true of the real one."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from infra.errors import ConcurrencyError, DuplicateCommand, RecordRejected
from infra.eventlog import Commit, EventStore, Idempotency, KeptReply, NewEvent, StreamWrite
from infra.eventlog.hashing import GENESIS, event_hash
from infra.eventlog.memory import InMemoryEventStore
from infra.eventlog.postgres import PostgresEventStore
from schemas.results import CommandResult
from tests.integration.eventstore_support import meta as _meta
from tests.integration.eventstore_support import write as _write


class EventStoreContract:
    """The behaviours; a subclass provides the `store` fixture."""

    async def test_append_assigns_versions_and_gap_free_positions(self, store: EventStore) -> None:
        a, b = uuid.uuid4(), uuid.uuid4()
        start = await store.head()
        r1 = await store.append(Commit([_write(a, 0, 2)], _meta()))
        link = bytes.fromhex((await store.read_stream(a))[-1].hash)
        r2 = await store.append(Commit([_write(a, 2, 1, link), _write(b, 0, 3)], _meta()))
        assert r1.versions == {a: 2}
        assert r2.versions == {a: 3, b: 3}
        assert r2.position == r1.position + 4
        events = await store.read_log(start)
        mine = [e for e in events if e.stream_id in (a, b)]
        assert [e.position for e in mine] == list(range(start + 1, start + 7))
        assert [e.version for e in (await store.read_stream(a))] == [1, 2, 3]

    async def test_stale_version_is_a_conflict_and_writes_nothing(self, store: EventStore) -> None:
        a, b = uuid.uuid4(), uuid.uuid4()
        await store.append(Commit([_write(a, 0)], _meta()))
        with pytest.raises(ConcurrencyError) as info:
            await store.append(Commit([_write(b, 0), _write(a, 0)], _meta()))
        assert info.value.actual == 1
        assert await store.read_stream(b) == []

    async def test_concurrent_appends_on_one_stream_let_exactly_one_win(self, store: EventStore) -> None:
        a = uuid.uuid4()
        results = await asyncio.gather(
            *(store.append(Commit([_write(a, 0)], _meta())) for _ in range(20)), return_exceptions=True
        )
        assert sum(not isinstance(r, Exception) for r in results) == 1
        assert all(isinstance(r, ConcurrencyError) for r in results if isinstance(r, Exception))

    async def test_idempotency_key_returns_first_reply(self, store: EventStore) -> None:
        a = uuid.uuid4()
        key = Idempotency("test", str(uuid.uuid4()), "fingerprint")
        reply = CommandResult(id=str(a), kind="thing")
        first = await store.append(Commit([_write(a, 0)], _meta(), idempotency=key, reply=reply))
        assert first.reply is not None and first.reply.version == 1
        with pytest.raises(DuplicateCommand) as info:
            await store.append(Commit([_write(uuid.uuid4(), 0)], _meta(), idempotency=key, reply=reply))
        assert info.value.reply.version == 1 and info.value.reply.position == first.position
        assert info.value.fingerprint == "fingerprint"
        assert await store.idempotent_reply(key.scope, key.key) == KeptReply(info.value.reply, "fingerprint")

    async def test_bad_payload_is_rejected_without_failing_neighbours(self, store: EventStore) -> None:
        good, bad = uuid.uuid4(), uuid.uuid4()
        bad_write = StreamWrite(bad, "thing", 0, [NewEvent(uuid.uuid4(), "Bad", b"{not json")])
        results = await asyncio.gather(
            store.append(Commit([bad_write], _meta())),
            store.append(Commit([_write(good, 0)], _meta())),
            return_exceptions=True,
        )
        assert isinstance(results[0], RecordRejected)
        assert not isinstance(results[1], Exception)
        assert await store.read_stream(bad) == []
        assert len(await store.read_stream(good)) == 1

    async def test_a_broken_chain_link_is_refused(self, store: EventStore) -> None:
        a = uuid.uuid4()
        await store.append(Commit([_write(a, 0, 2)], _meta()))
        with pytest.raises(RecordRejected):
            await store.append(Commit([_write(a, 2, 1, link=b"\x01" * 32)], _meta()))
        assert len(await store.read_stream(a)) == 2

    async def test_a_commit_whose_read_stream_moved_on_is_a_conflict_and_writes_nothing(
        self, store: EventStore
    ) -> None:
        read, written = uuid.uuid4(), uuid.uuid4()
        await store.append(Commit([_write(read, 0)], _meta()))
        link = bytes.fromhex((await store.read_stream(read))[-1].hash)
        await store.append(Commit([_write(read, 1, 1, link)], _meta()))  # someone else moves it to 2

        with pytest.raises(ConcurrencyError) as info:
            await store.append(Commit([_write(written, 0)], _meta(), reads=[(read, 1)]))
        assert (info.value.stream_id, info.value.expected, info.value.actual) == (read, 1, 2)
        assert await store.read_stream(written) == []
        with pytest.raises(ConcurrencyError):  # a stream read as empty that is not
            await store.append(Commit([_write(written, 0)], _meta(), reads=[(uuid.uuid4(), 0), (read, 0)]))

        result = await store.append(Commit([_write(written, 0)], _meta(), reads=[(read, 2), (uuid.uuid4(), 0)]))
        assert result.versions == {written: 1}

    async def test_one_stale_reader_in_a_group_fails_alone(self, store: EventStore) -> None:
        read = uuid.uuid4()
        await store.append(Commit([_write(read, 0)], _meta()))
        start = await store.head()
        streams = [uuid.uuid4() for _ in range(60)]
        commits = [Commit([_write(s, 0)], _meta(), reads=[(read, 0 if i == 30 else 1)]) for i, s in enumerate(streams)]
        results = await asyncio.gather(*(store.append(c) for c in commits), return_exceptions=True)

        assert isinstance(results[30], ConcurrencyError) and results[30].stream_id == read
        assert sorted(r.position for r in results if not isinstance(r, Exception)) == list(range(start + 1, start + 60))
        assert await store.read_stream(streams[30]) == []

    async def test_the_log_reads_in_pages_up_to_the_head(self, store: EventStore) -> None:
        a = uuid.uuid4()
        start = await store.head()
        result = await store.append(Commit([_write(a, 0, 5)], _meta()))
        assert await store.head() == result.position == start + 5
        first = await store.read_log(start, limit=2)
        rest = await store.read_log(start + 2, limit=10)
        assert [e.position for e in first + rest] == list(range(start + 1, start + 6))
        assert [e.version for e in first + rest] == [1, 2, 3, 4, 5]
        assert await store.read_log(result.position) == []

    async def test_a_used_key_is_refused_before_a_stale_version_and_an_unused_one_has_no_reply(
        self, store: EventStore
    ) -> None:
        a = uuid.uuid4()
        key = Idempotency("test", str(uuid.uuid4()), "fingerprint")
        reply = CommandResult(id=str(a), kind="thing")
        await store.append(Commit([_write(a, 0)], _meta(), idempotency=key, reply=reply))
        with pytest.raises(DuplicateCommand):  # the same command again, its stream moved on since
            await store.append(Commit([_write(a, 0)], _meta(), idempotency=key, reply=reply))
        assert await store.idempotent_reply("test", str(uuid.uuid4())) is None
        assert len(await store.read_stream(a)) == 1

    async def test_streams_read_in_version_order_and_what_is_held_never_runs_ahead(self, store: EventStore) -> None:
        a, b, missing = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        await store.append(Commit([_write(a, 0, 2), _write(b, 0)], _meta()))
        read = await store.read_streams([b, missing, a, b])
        assert list(read) == [b, missing, a]
        assert [e.version for e in read[a]] == [1, 2] and len(read[b]) == 1 and read[missing] == []
        held = store.cached_streams([a, b, missing])
        assert missing not in held
        for sid, events in held.items():  # a prefix of what is stored (possibly stale, never wrong)
            assert events == read[sid][: len(events)]

    async def test_hash_chain_links_each_event_to_the_previous(self, store: EventStore) -> None:
        a = uuid.uuid4()
        await store.append(Commit([_write(a, 0, 3)], _meta()))
        events = await store.read_stream(a)
        prev = GENESIS
        for e in events:
            assert e.prev_hash == prev.hex()
            assert (
                e.hash
                == event_hash(
                    prev,
                    event_id=e.event_id,
                    stream_id=e.stream_id,
                    version=e.version,
                    event_type=e.event_type,
                    schema_version=e.schema_version,
                    occurred_at=e.occurred_at,
                    actor_id=e.actor_id,
                    org_id=e.org_id,
                    correlation_id=e.correlation_id,
                    causation_id=e.causation_id,
                    payload=bytes(e.payload),
                ).hex()
            )
            prev = bytes.fromhex(e.hash)


class TestInMemoryEventStore(EventStoreContract):
    @pytest.fixture
    def store(self) -> EventStore:
        return InMemoryEventStore()


class TestPostgresEventStore(EventStoreContract):
    @pytest.fixture
    async def store(self, database: str) -> AsyncIterator[EventStore]:
        s = PostgresEventStore(database)
        await s.start()
        yield s
        await s.close()
