"""Commits of made-up events for the event store's tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from infra.eventlog import EventMeta, NewEvent, StreamWrite
from infra.eventlog.hashing import GENESIS


def meta() -> EventMeta:
    return EventMeta(occurred_at=datetime.now(UTC), correlation_id=str(uuid.uuid4()), actor_id="u1")


def write(stream: uuid.UUID, expected: int, n: int = 1, link: bytes = GENESIS, kind: str = "Thing") -> StreamWrite:
    """`n` events appended to `stream` at `expected`, linked to `link` (the stream's last hash)."""
    return StreamWrite(
        stream,
        "thing",
        expected,
        [NewEvent(uuid.uuid4(), f"{kind}Happened", b'{"n": %d}' % i) for i in range(n)],
        link,
    )
