"""A stream's history for auditors: its events, and for a course those of its linked streams
(reviews, enrolments, orders), in log order, filtered, one cursor page at a time."""

from __future__ import annotations

from uuid import UUID

import msgspec

from infra.eventlog.reader import LogReader, Match
from schemas.envelope import EventEnvelope

MAX_PAGE = 1000


class HistoryPage(msgspec.Struct, frozen=True, kw_only=True):
    """One page of a history; pass `next_after` back as `after` for the next (None: the end)."""

    stream_id: UUID
    streams: list[UUID]  # the stream and the streams linked to it
    events: list[EventEnvelope]
    next_after: int | None


async def history(
    reader: LogReader, stream_id: UUID, match: Match, *, after: int = 0, limit: int = 100, linked: bool = True
) -> HistoryPage:
    """Events of `stream_id` (and, for a course, of every stream that names it) after position
    `after` that `match` keeps, at most `limit` (capped at MAX_PAGE)."""
    limit = max(1, min(limit, MAX_PAGE))
    streams = [stream_id, *(await reader.linked_streams(stream_id) if linked else [])]
    events = await reader.history(streams, after, limit + 1, match)
    more = len(events) > limit
    events = events[:limit]
    return HistoryPage(
        stream_id=stream_id,
        streams=streams,
        events=events,
        next_after=events[-1].position if more else None,
    )
