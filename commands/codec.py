"""The domain's event catalogue: domain events to and from their stored JSON."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import msgspec

from domain.aggregate import Event
from domain.aggregates import AGGREGATES
from infra.eventlog import EventCatalogue

CATALOGUE = EventCatalogue(AGGREGATES)


def decode(event_type: str, payload: bytes | msgspec.Raw) -> Event:
    """The domain event stored under `event_type` (raises UnknownEventType if none is)."""
    event: Event = CATALOGUE.decode(event_type, payload)
    return event


def decode_each(names: Iterable[str], payloads: Iterable[bytes | msgspec.Raw]) -> Iterator[Event]:
    """The domain events of these types and payloads, in order, decoded one at a time."""
    events: Iterator[Event] = CATALOGUE.decode_each(names, payloads)
    return events
