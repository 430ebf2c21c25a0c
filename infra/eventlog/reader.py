"""The one reader of the event log: events by position, the head, and the durability barrier.

Every component that follows the log (the relay, projectors, their dead letters, lag status,
audit) reads it here and nowhere else. A reader that hands events to the outside world must not
return them before they are on disk, whatever `synchronous_commit` the writer used (the store
commits synchronously today; an asynchronous commit is visible before it is flushed and could be
lost in a crash): `LogReader.read` runs the barrier first, and
tests/integration/test_durability_barrier.py fails without it.

A reader inside a transaction that writes to this same database (a projector filling a gap)
needs no barrier and is built with `barrier=False`: the WAL is flushed in order, so if that
transaction's commit survives a crash, so do the events it read.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
import psycopg

from infra.errors import Unavailable
from schemas.envelope import EventEnvelope

COLUMNS = (
    "position, event_id, stream_id, stream_type, version, event_type, schema_version, occurred_at,"
    " actor_id, org_id, correlation_id, causation_id, payload::text, encode(prev_hash, 'hex'),"
    " encode(hash, 'hex')"
)
_AFTER = f"SELECT {COLUMNS} FROM cw_events WHERE position > %s ORDER BY position LIMIT %s"
_BETWEEN = f"SELECT {COLUMNS} FROM cw_events WHERE position > %s AND position < %s ORDER BY position LIMIT %s"
_AT = f"SELECT {COLUMNS} FROM cw_events WHERE position = ANY(%s) ORDER BY position"
_STREAM = f"SELECT {COLUMNS} FROM cw_events WHERE stream_id = %s AND version > %s ORDER BY version"
_STREAM_UPTO = f"SELECT {COLUMNS} FROM cw_events WHERE stream_id = %s AND version <= %s ORDER BY version"
# A stream's first events as its aggregate's replay needs them, built by the server into one JSON
# value: the last event's version, position and time, the events' types and their payloads. One
# row and one value to decode, rather than a row of fifteen columns and an envelope per event;
# two lists of strings and raw JSON, objects the cyclic collector does not track.
_REPLAY = (
    "SELECT json_build_object('stream_type', min(stream_type), 'version', count(*),"
    " 'position', (array_agg(position ORDER BY version DESC))[1],"
    " 'occurred_at', (array_agg(occurred_at ORDER BY version DESC))[1],"
    " 'types', json_agg(event_type ORDER BY version), 'payloads', json_agg(payload ORDER BY version))::text"
    " FROM cw_events WHERE stream_id = %s AND version <= {upto} HAVING count(*) > 0"
)
_REPLAY_UPTO = _REPLAY.format(upto="%s")
_REPLAY_AT = _REPLAY.format(upto="(SELECT count(*) FROM cw_events WHERE stream_id = %s AND occurred_at <= %s)")
# Streams that name a course in their payload: its reviews and enrolments (first event), orders,
# and its certificates (what they certify names it). Both fields are indexed (migration 060).
_LINKED = (
    "SELECT stream_id FROM cw_events WHERE (payload->>'course_id' = %s OR payload #>> '{certified,course_id}' = %s)"
    " AND stream_id <> %s::uuid GROUP BY stream_id ORDER BY min(position)"
)
_ORG_STREAMS = "SELECT stream_id FROM cw_events WHERE org_id = %s GROUP BY stream_id ORDER BY min(position)"
_HEAD = "SELECT position FROM cw_log_head WHERE id = 1"
_RECORDED_AT = "SELECT recorded_at FROM cw_events WHERE position = %s"
# A synchronous commit flushes the WAL only if the transaction wrote some: this one writes a row.
FLUSH = "UPDATE cw_flush SET n = n + 1 WHERE id = 1"

Row = tuple[Any, ...]


class Match(msgspec.Struct, frozen=True, kw_only=True):
    """Which events of a history to keep: any of these types, by this actor, in [since, until)."""

    event_types: tuple[str, ...] = ()
    actor_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class Replay(msgspec.Struct, frozen=True):
    """A stream's first `version` events, for replaying its aggregate: the last one's global
    `position` and time, and the events' types and payloads, in version order."""

    stream_type: str
    version: int
    position: int
    occurred_at: datetime
    types: list[str]
    payloads: list[msgspec.Raw]


_decode_replay = msgspec.json.Decoder(Replay).decode


def envelope(row: Row) -> EventEnvelope:
    """An event from a row of `COLUMNS`."""
    return EventEnvelope(
        position=row[0],
        event_id=row[1],
        stream_id=row[2],
        stream_type=row[3],
        version=row[4],
        event_type=row[5],
        schema_version=row[6],
        occurred_at=row[7],
        actor_id=row[8],
        org_id=row[9],
        correlation_id=row[10],
        causation_id=row[11],
        payload=msgspec.Raw(row[12]),
        prev_hash=row[13],
        hash=row[14],
    )


async def flush_wal(conn: psycopg.AsyncConnection[Any]) -> None:
    """Durability barrier: once this returns, every transaction committed before it is on disk.

    A synchronously committed transaction flushes the WAL up to its own commit record, which lies
    after the commit record of every transaction that had committed before it began. Works on an
    autocommit connection of any `synchronous_commit` setting, outside a transaction.
    """
    async with conn.transaction():
        await conn.execute("SET LOCAL synchronous_commit TO on")
        await conn.execute(FLUSH)


class LogReader:
    """Reads the log on one connection the caller owns (autocommit, or inside its transaction)."""

    def __init__(self, conn: psycopg.AsyncConnection[Any], *, barrier: bool = True, durable_position: int = 0) -> None:
        self.conn = conn
        self.barrier = barrier
        self.durable_position = durable_position  # every event up to here is known to be on disk

    async def read(self, after: int, limit: int = 1000, *, before: int | None = None) -> list[EventEnvelope]:
        """Events with after < position (< before), in position order, at most `limit`."""
        if before is None:
            rows = await self._fetch(_AFTER, [after, limit])
        else:
            rows = await self._fetch(_BETWEEN, [after, before, limit])
        if rows and self.barrier and rows[-1][0] > self.durable_position:
            try:
                await flush_wal(self.conn)
            except psycopg.OperationalError as e:
                raise Unavailable("postgres", str(e)) from e
            self.durable_position = rows[-1][0]
        return [envelope(r) for r in rows]

    async def at(self, positions: Sequence[int]) -> list[EventEnvelope]:
        """The events at these positions (those that exist), in position order; no barrier: for
        events already handed out once (dead letters, a check of what was published)."""
        return [envelope(r) for r in await self._fetch(_AT, [list(positions)])]

    async def stream(self, stream_id: Any, after_version: int = 0) -> list[EventEnvelope]:
        """One stream's events after `after_version`, in version order."""
        return [envelope(r) for r in await self._fetch(_STREAM, [stream_id, after_version])]

    async def stream_upto(self, stream_id: UUID, version: int) -> list[EventEnvelope]:
        """One stream's events up to and including `version`, in version order."""
        return [envelope(r) for r in await self._fetch(_STREAM_UPTO, [stream_id, version])]

    async def replay(self, stream_id: UUID, upto: int | datetime) -> Replay | None:
        """One stream's events up to version `upto`, or those that had occurred at time `upto`
        (by `occurred_at`: the version is the count of those), in one round trip; None if none."""
        if isinstance(upto, datetime):
            rows = await self._fetch(_REPLAY_AT, [stream_id, stream_id, upto])
        else:
            rows = await self._fetch(_REPLAY_UPTO, [stream_id, upto])
        return _decode_replay(rows[0][0]) if rows else None

    async def history(self, stream_ids: Sequence[UUID], after: int, limit: int, match: Match) -> list[EventEnvelope]:
        """The events of these streams after position `after` that `match` selects, in position
        order, at most `limit`: one page of an audit history (the last position is the cursor)."""
        where = ["stream_id = ANY(%s)", "position > %s"]
        params: list[Any] = [list(stream_ids), after]
        if match.event_types:
            where.append("event_type = ANY(%s)")
            params.append(list(match.event_types))
        if match.actor_id is not None:
            where.append("actor_id = %s")
            params.append(match.actor_id)
        if match.since is not None:
            where.append("occurred_at >= %s")
            params.append(match.since)
        if match.until is not None:
            where.append("occurred_at < %s")
            params.append(match.until)
        query = f"SELECT {COLUMNS} FROM cw_events WHERE {' AND '.join(where)} ORDER BY position LIMIT %s"
        return [envelope(r) for r in await self._fetch(query, [*params, limit])]

    async def linked_streams(self, course_id: UUID) -> list[UUID]:
        """The streams whose events name the course: its reviews, enrolments, orders and
        certificates."""
        return [r[0] for r in await self._fetch(_LINKED, [str(course_id), str(course_id), course_id])]

    async def organisation_streams(self, org_id: str) -> list[UUID]:
        """Every stream with an event recorded for this organisation, in order of its first event."""
        return [r[0] for r in await self._fetch(_ORG_STREAMS, [org_id])]

    async def head(self) -> int:
        """The position of the last committed event (0 for an empty log)."""
        rows = await self._fetch(_HEAD, [])
        return int(rows[0][0]) if rows else 0

    async def recorded_at(self, position: int) -> datetime | None:
        """When the event at `position` was committed (None if there is none)."""
        rows = await self._fetch(_RECORDED_AT, [position])
        return rows[0][0] if rows else None

    async def _fetch(self, query: str, params: list[Any]) -> list[Row]:
        try:
            cur = self.conn.cursor()
            await cur.execute(query, params, prepare=True)
            return await cur.fetchall()
        except psycopg.OperationalError as e:
            raise Unavailable("postgres", str(e)) from e
