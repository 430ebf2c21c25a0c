"""The published event envelope: what JetStream carries and what auditors read."""

from __future__ import annotations

from datetime import datetime

import msgspec


class EventEnvelope(msgspec.Struct, kw_only=True):
    """One event as published on `cw.evt.<category>.<EventType>`; payload is the event's own JSON."""

    event_id: str
    position: int
    stream_id: str
    stream_type: str
    version: int
    event_type: str
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
    """Header names set on every published event."""

    MSG_ID = "Nats-Msg-Id"
    POSITION = "Cw-Position"
    STREAM_ID = "Cw-Stream-Id"
    STREAM_TYPE = "Cw-Stream-Type"
    VERSION = "Cw-Version"
    EVENT_TYPE = "Cw-Event-Type"
    CORRELATION_ID = "Cw-Correlation-Id"
    CAUSATION_ID = "Cw-Causation-Id"
