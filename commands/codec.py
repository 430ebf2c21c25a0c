"""The domain's event catalogue, and the decoded events of the streams a process decides on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar
from uuid import UUID

import msgspec

from domain.aggregate import Aggregate, Event
from domain.aggregates import AGGREGATES
from infra.eventlog import EventCatalogue, EventEnvelope
from infra.lru import Lru

A = TypeVar("A", bound=Aggregate)
CATALOGUE = EventCatalogue(AGGREGATES)


def decode(event_type: str, payload: bytes | msgspec.Raw) -> Event:
    """The domain event stored under `event_type` (raises UnknownEventType if none is)."""
    event: Event = CATALOGUE.decode(event_type, payload)
    return event


class DecodedStreams:
    """The decoded events of recently used streams, so a decision on a held stream decodes only
    what is new. Events are immutable (frozen dataclasses of tuples), so lists of them are shared.
    A prefix is reused only if its last event id matches the stored event at that version."""

    def __init__(self, size: int = 20_000) -> None:
        self._held: Lru[UUID, tuple[UUID, list[Event]]] = Lru(size)
        self._views: Lru[UUID, tuple[UUID | None, Aggregate]] = Lru(size)

    def view(self, cls: type[A], stream_id: UUID, stored: Sequence[EventEnvelope]) -> A:
        """The aggregate replayed from `stored`, shared by every caller until the stream moves
        on: callers only read it (Session.view)."""
        last = stored[-1].event_id if stored else None
        held = self._views.get(stream_id)
        if held is not None and held[0] == last and type(held[1]) is cls and held[1].version == len(stored):
            return held[1]
        agg = cls.replay(stream_id, self.events(stream_id, stored), stored[-1].position if stored else 0)
        self._views.put(stream_id, (last, agg))
        return agg

    def forget(self, stream_id: UUID) -> None:
        self._views.pop(stream_id, None)

    def events(self, stream_id: UUID, stored: Sequence[EventEnvelope]) -> list[Event]:
        held = self._held.get(stream_id)
        prefix: list[Event] = []
        if held is not None and len(held[1]) <= len(stored) and stored[len(held[1]) - 1].event_id == held[0]:
            prefix = held[1]
            if len(prefix) == len(stored):
                return prefix
        events = prefix + [decode(e.event_type, e.payload) for e in stored[len(prefix) :]]
        if events:
            self._held.put(stream_id, (stored[-1].event_id, events))
        return events
