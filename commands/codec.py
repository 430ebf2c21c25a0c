"""The domain's event catalogue: domain events to and from their stored JSON."""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from domain.aggregate import Event
from domain.aggregates import AGGREGATES
from infra.eventlog import EventCatalogue

CATALOGUE = EventCatalogue(AGGREGATES)


def decode(event_type: str, payload: bytes | msgspec.Raw) -> Event:
    """The domain event stored under `event_type` (raises UnknownEventType if none is)."""
    event: Event = CATALOGUE.decode(event_type, payload)
    return event


def decode_all(events: Iterable[tuple[str, bytes | msgspec.Raw]]) -> list[Event]:
    """The domain events of these (type, payload) pairs, in order."""
    decoded: list[Event] = CATALOGUE.decode_all(events)
    return decoded
