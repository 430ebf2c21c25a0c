"""The event envelope: one stored event with its metadata, as the store hands it out, JetStream
carries it and auditors read it. The one type for an event outside its aggregate."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec


class EventEnvelope(msgspec.Struct, kw_only=True, frozen=True):
    """One event as stored and as published on `<prefix>.evt.<category>.<EventType>`.

    `payload` is the event's own JSON; `prev_hash` and `hash` (hex) link the events of one stream
    into a chain: `hash` = sha256 over `prev_hash`, the metadata and the payload.
    """

    position: int  # gap-free, in commit order across the whole log
    event_id: UUID
    stream_id: UUID
    stream_type: str  # the aggregate: course, enrollment, ...
    version: int  # 1, 2, ... within the stream
    event_type: str  # the wire name, e.g. CourseCreated
    schema_version: int
    occurred_at: datetime
    actor_id: str | None
    org_id: str | None
    correlation_id: str
    causation_id: str | None
    prev_hash: str
    hash: str
    payload: msgspec.Raw


class Headers:
    """Header names set on every published event. The rest of an event's metadata (stream,
    version, type, correlation and causation ids) travels only in the envelope body."""

    MSG_ID = "Nats-Msg-Id"
    POSITION = "Cw-Position"
