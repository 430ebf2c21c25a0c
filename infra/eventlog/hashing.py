"""The per-stream hash chain: each event's hash covers the previous hash and the event itself."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from uuid import UUID

import msgspec

if TYPE_CHECKING:
    from infra.eventlog.records import EventMeta, NewEvent

GENESIS = bytes(32)
_json = msgspec.json.encode


def uuid_text(u: UUID) -> str:
    """`str(u)`, the canonical form, formatted in C (a third of `UUID.__str__`'s cost)."""
    return _json(u)[1:-1].decode()


def event_hash(
    prev_hash: bytes,
    *,
    event_id: UUID,
    stream_id: UUID,
    version: int,
    event_type: str,
    schema_version: int,
    occurred_at: datetime,
    actor_id: str | None,
    org_id: str | None,
    correlation_id: str,
    causation_id: str | None,
    payload: bytes,
) -> bytes:
    """sha256(prev_hash || canonical header || payload bytes)."""
    header = "\x1f".join(
        (
            uuid_text(event_id),
            uuid_text(stream_id),
            str(version),
            event_type,
            str(schema_version),
            occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
            actor_id or "",
            org_id or "",
            correlation_id,
            causation_id or "",
        )
    ).encode()
    h = hashlib.sha256(prev_hash)
    h.update(len(header).to_bytes(4, "big"))
    h.update(header)
    h.update(payload)
    return h.digest()


def chained(
    stream_id: UUID, expected_version: int, expected_hash: bytes, meta: EventMeta, events: Iterable[NewEvent]
) -> Iterator[tuple[NewEvent, int, bytes, bytes]]:
    """The events of one stream write with their (version, prev_hash, hash), linked in order."""
    version, prev = expected_version, expected_hash
    for ev in events:
        version += 1
        digest = event_hash(
            prev,
            event_id=ev.event_id,
            stream_id=stream_id,
            version=version,
            event_type=ev.event_type,
            schema_version=ev.schema_version,
            occurred_at=meta.occurred_at,
            actor_id=meta.actor_id,
            org_id=meta.org_id,
            correlation_id=meta.correlation_id,
            causation_id=meta.causation_id,
            payload=ev.payload,
        )
        yield ev, version, prev, digest
        prev = digest
