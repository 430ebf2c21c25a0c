"""Events as projectors see them: one shape whether they came from JetStream or from the log."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from domain.aggregate import Event
from schemas.envelope import EventEnvelope, Headers

# The columns of cw_events a projector needs, in the order `from_row` reads them.
LOG_COLUMNS = "position, event_id, stream_id, stream_type, event_type, occurred_at, actor_id, org_id, payload::text"


@dataclass(frozen=True, slots=True)
class Envelope:
    """One stored event with the metadata projections use; `payload` is the event's own JSON."""

    position: int
    event_id: UUID
    stream_id: UUID
    stream_type: str
    event_type: str
    occurred_at: datetime
    actor_id: str | None
    org_id: str | None
    payload: bytes


_envelope_decoder = msgspec.json.Decoder(EventEnvelope)


def from_message(data: bytes) -> Envelope:
    """Decode a JetStream message body (an EventEnvelope)."""
    e = _envelope_decoder.decode(data)
    return Envelope(
        position=e.position,
        event_id=UUID(e.event_id),
        stream_id=UUID(e.stream_id),
        stream_type=e.stream_type,
        event_type=e.event_type,
        occurred_at=e.occurred_at,
        actor_id=e.actor_id,
        org_id=e.org_id,
        payload=bytes(e.payload),
    )


def position_header(headers: dict[str, str] | None) -> int | None:
    """The log position a message announces in its header, if it carries one."""
    value = (headers or {}).get(Headers.POSITION)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def from_row(row: tuple[Any, ...]) -> Envelope:
    """An event read from cw_events with LOG_COLUMNS."""
    return Envelope(
        position=row[0],
        event_id=row[1],
        stream_id=row[2],
        stream_type=row[3],
        event_type=row[4],
        occurred_at=row[5],
        actor_id=row[6],
        org_id=row[7],
        payload=row[8].encode() if isinstance(row[8], str) else bytes(row[8]),
    )


def wire_name(event_class: type[Event]) -> str:
    """The stored name of a domain event class: aggregate name + event class name."""
    return event_class.__qualname__.replace(".", "")


def decoder_for(event_class: type[Event]) -> Callable[[bytes], Any]:
    return msgspec.json.Decoder(event_class).decode
