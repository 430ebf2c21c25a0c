"""Domain events to and from their stored JSON: the one place event types are looked up by name."""

from __future__ import annotations

import msgspec

from domain.aggregate import Aggregate, Event
from domain.course import Course
from domain.enrollment import Enrollment
from domain.identity import EmailAddress, Organisation, PlatformAdmins, User
from domain.review import Review
from domain.seats import CourseSeats

AGGREGATES: tuple[type[Aggregate], ...] = (
    Course,
    Review,
    Enrollment,
    CourseSeats,
    User,
    EmailAddress,
    Organisation,
    PlatformAdmins,
)
EVENT_TYPES: dict[str, type[Event]] = {name: cls for agg in AGGREGATES for name, cls in agg.event_types.items()}
_encoder = msgspec.json.Encoder()
_decoders = {name: msgspec.json.Decoder(cls) for name, cls in EVENT_TYPES.items()}


def encode(event: Event) -> bytes:
    return _encoder.encode(event)


def decode(event_type: str, payload: bytes) -> Event:
    try:
        decoder = _decoders[event_type]
    except KeyError:
        raise LookupError(f"unknown event type {event_type!r}") from None
    event: Event = decoder.decode(payload)
    return event


def event_schema() -> dict[str, object]:
    """JSON Schema of every event payload, derived from the dataclass declarations."""
    names = sorted(EVENT_TYPES)
    schemas, components = msgspec.json.schema_components([EVENT_TYPES[n] for n in names])
    return {
        "$defs": components,
        "events": dict(zip(names, schemas, strict=True)),
    }
