"""The event log: the store, the envelope, the catalogue, the log reader, publisher and consumer.

Everything that writes, reads, publishes or follows the log goes through this package; no other
module names the log's tables.
"""

from infra.eventlog.catalogue import EventCatalogue, UnknownEventType, decoder_for, encode, wire_name
from infra.eventlog.port import EventStore
from infra.eventlog.records import AppendResult, Commit, EventMeta, Idempotency, KeptReply, NewEvent, StreamWrite
from schemas.envelope import EventEnvelope

__all__ = [
    "AppendResult",
    "Commit",
    "EventCatalogue",
    "EventEnvelope",
    "EventMeta",
    "EventStore",
    "Idempotency",
    "KeptReply",
    "NewEvent",
    "StreamWrite",
    "UnknownEventType",
    "decoder_for",
    "encode",
    "wire_name",
]
