"""What auditors ask of the log, answered the same for HTTP, NATS and the command line."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import msgspec
import psycopg

from domain import errors
from domain.seal import SEALS_STREAM
from gateway.audit.export import Export, InclusionProof, gather, inclusion_proof
from gateway.audit.history import HistoryPage, history
from gateway.audit.replay import Change, State, UnknownStream, diff, rebuild
from gateway.audit.xapi import Learning, Statement
from infra.eventlog.audit import Progress, Verification, verify_log, verify_streams
from infra.eventlog.reader import LogReader, Match
from infra.eventlog.seals import Seal, decode_seal
from schemas.envelope import EventEnvelope

Connect = Callable[[], contextlib.AbstractAsyncContextManager[psycopg.AsyncConnection[Any]]]
Point = int | datetime  # a version, or a time


def parse_point(text: str) -> Point:
    """A version number, or an ISO 8601 time (ValueError if it is neither)."""
    if text.isdigit():
        return int(text)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is neither a version nor an ISO 8601 time") from None


class NotSealed(errors.NotFound):
    """No seal covers that position yet."""

    code = "not_sealed"


class Difference(msgspec.Struct, frozen=True, kw_only=True):
    before: State
    after: State
    changes: list[Change]


def connect_to(dsn: str) -> Connect:
    """Connections of their own to `dsn` (the command line: no pool)."""

    @contextlib.asynccontextmanager
    async def connect() -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            yield conn

    return connect


class AuditLog:
    """Histories, past states, differences and verification over the event log."""

    def __init__(self, connect: Connect, trusted_keys: frozenset[str] = frozenset()) -> None:
        self.connect = connect
        self.trusted_keys = trusted_keys

    @contextlib.asynccontextmanager
    async def reader(self) -> AsyncIterator[LogReader]:
        # Audits hand nothing on to other systems before a durable record, so need no barrier.
        async with self.connect() as conn:
            yield LogReader(conn, barrier=False)

    async def owner(self, stream_id: UUID) -> str | None:
        """The organisation a stream belongs to (that of its first event); UnknownStream if none."""
        async with self.reader() as reader:
            first = await reader.stream_upto(stream_id, 1)
        if not first:
            raise UnknownStream(f"no stream {stream_id}")
        return first[0].org_id

    async def history(
        self, stream_id: UUID, match: Match, *, after: int = 0, limit: int = 100, linked: bool = True
    ) -> HistoryPage:
        async with self.reader() as reader:
            return await history(reader, stream_id, match, after=after, limit=limit, linked=linked)

    async def state(self, stream_id: UUID, at: Point | None = None) -> State:
        """The stream as it was at version `at` (or at that time; now when None)."""
        async with self.reader() as reader:
            return await _state(reader, stream_id, at)

    async def diff(self, stream_id: UUID, before: Point, after: Point) -> Difference:
        async with self.reader() as reader:
            a, b = await _state(reader, stream_id, before), await _state(reader, stream_id, after)
        return Difference(before=a, after=b, changes=diff(a.state, b.state))

    async def verify_stream(self, stream_id: UUID) -> Verification:
        async with self.reader() as reader:
            return await verify_streams(reader, [stream_id], scope=f"stream {stream_id}")

    async def verify_organisation(self, org_id: str, progress: Progress | None = None) -> Verification:
        async with self.reader() as reader:
            streams = await reader.organisation_streams(org_id)
            return await verify_streams(reader, streams, scope=f"organisation {org_id}", progress=progress)

    async def verify_log(self, progress: Progress | None = None) -> Verification:
        """The whole store: every chain, every position, every seal."""
        async with self.reader() as reader:
            return await verify_log(reader, await _seals(reader), self.trusted_keys, progress)

    async def export_stream(self, stream_id: UUID) -> Export:
        """A stream's whole history with every stream linked to it, for offline checking."""
        async with self.reader() as reader:
            streams = [stream_id, *await reader.linked_streams(stream_id)]
            if not await reader.stream_upto(stream_id, 1):
                raise UnknownStream(f"no stream {stream_id}")
            return await gather(reader, streams, await _seals(reader), f"stream {stream_id}", datetime.now(UTC))

    async def export_organisation(self, org_id: str) -> Export:
        """Every stream of an organisation, for offline checking."""
        async with self.reader() as reader:
            streams = await reader.organisation_streams(org_id)
            return await gather(reader, streams, await _seals(reader), f"organisation {org_id}", datetime.now(UTC))

    async def learning_records(self, stream_ids: list[UUID], learning: Learning) -> list[Statement]:
        """xAPI statements of the enrolments and certificates among these streams."""
        statements: list[Statement] = []
        async with self.reader() as reader:
            for sid in stream_ids:
                statements += learning.statements(await reader.stream(sid))
        return statements

    async def course_learning_records(self, course_id: UUID, learning: Learning) -> list[Statement]:
        """xAPI statements of a course's enrolments and certificates."""
        async with self.reader() as reader:
            linked = await reader.linked_streams(course_id)
        return await self.learning_records(linked, learning)

    async def organisation_learning_records(self, org_id: str, learning: Learning) -> list[Statement]:
        async with self.reader() as reader:
            streams = await reader.organisation_streams(org_id)
        return await self.learning_records(streams, learning)

    async def event(self, position: int) -> EventEnvelope:
        """The event at `position`; UnknownStream if there is none."""
        async with self.reader() as reader:
            found = await reader.at([position])
        if not found:
            raise UnknownStream(f"no event at position {position}")
        return found[0]

    async def proof(self, position: int) -> InclusionProof:
        """The Merkle inclusion proof of the event at `position` under its seal; NotSealed when
        no seal covers it yet."""
        async with self.reader() as reader:
            found = await reader.at([position])
            if not found:
                raise UnknownStream(f"no event at position {position}")
            proof = await inclusion_proof(reader, found[0], await _seals(reader))
        if proof is None:
            raise NotSealed(f"no seal covers position {position} yet; the sealer seals the log periodically")
        return proof

    async def seals(self) -> list[Seal]:
        async with self.reader() as reader:
            return await _seals(reader)


async def _seals(reader: LogReader) -> list[Seal]:
    return [decode_seal(e.payload) for e in await reader.stream(SEALS_STREAM)]


async def _state(reader: LogReader, stream_id: UUID, at: Point | None) -> State:
    replay = await reader.replay(stream_id, at if at is not None else 2**62)
    if isinstance(at, int) and replay is not None and replay.version < at:
        raise UnknownStream(f"stream {stream_id} has {replay.version} version(s), not {at}")
    return rebuild(stream_id, replay)
