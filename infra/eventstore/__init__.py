"""The event store port and its PostgreSQL adapter."""

from infra.eventstore.port import EventStore
from infra.eventstore.records import (
    AppendResult,
    Commit,
    EventMeta,
    NewEvent,
    StoredEvent,
    StreamWrite,
)

__all__ = ["AppendResult", "Commit", "EventMeta", "EventStore", "NewEvent", "StoredEvent", "StreamWrite"]
