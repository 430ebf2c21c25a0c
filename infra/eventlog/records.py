"""What goes into the store: new events, stream writes and the commit that holds them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import msgspec

from schemas.results import CommandResult

# What comes out of the store is schemas.envelope.EventEnvelope, the one envelope type.


class NewEvent(msgspec.Struct, frozen=True):
    event_id: UUID
    event_type: str
    payload: bytes  # the event's JSON, exactly as it will be stored and hashed
    schema_version: int = 1


class StreamWrite(msgspec.Struct, frozen=True):
    stream_id: UUID
    stream_type: str
    expected_version: int  # 0 for a stream that must not exist yet
    events: Sequence[NewEvent]
    expected_hash: bytes = bytes(32)  # hash of the event at expected_version (the chain's link)


class EventMeta(msgspec.Struct, frozen=True):
    occurred_at: datetime
    correlation_id: str
    actor_id: str | None = None
    org_id: str | None = None
    causation_id: str | None = None


class Idempotency(msgspec.Struct, frozen=True):
    """A command's Idempotency-Key: the namespace it lives in, the key, and the fingerprint of
    the request it came with (who sent which command with which body), kept with the reply."""

    scope: str
    key: str
    fingerprint: str = ""


class KeptReply(msgspec.Struct, frozen=True):
    """The first reply given under a key, and the fingerprint of the request it answered
    ("" for a record kept before fingerprints were)."""

    reply: CommandResult
    fingerprint: str = ""


class Commit(msgspec.Struct, frozen=True):
    """Everything one command writes, atomically: events of one or more streams."""

    writes: Sequence[StreamWrite]
    meta: EventMeta
    idempotency: Idempotency | None = None
    reply: CommandResult | None = None  # stored under the key; version/position filled in
    # Streams the decision read but does not write, each with the version it saw: the commit
    # fails with a conflict if one of them has moved on by the time it is written.
    reads: Sequence[tuple[UUID, int]] = ()


class AppendResult(msgspec.Struct, frozen=True):
    position: int  # global position of the last event written
    versions: dict[UUID, int] = {}
    reply: CommandResult | None = None
