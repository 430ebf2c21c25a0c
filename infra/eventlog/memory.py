"""An in-memory event store: the port with the PostgreSQL store's rules and no I/O, for tests of
commands and workers (the contract suite in tests/integration runs against both stores)."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

import msgspec

from infra.errors import ConcurrencyError, DuplicateCommand, RecordRejected
from infra.eventlog.hashing import GENESIS, chained
from infra.eventlog.port import EventStore
from infra.eventlog.records import AppendResult, Commit, KeptReply
from schemas.envelope import EventEnvelope


class InMemoryEventStore(EventStore):
    """Atomic commits, expected versions, linked hashes, gap-free positions, idempotency keys."""

    def __init__(self) -> None:
        self.log: list[EventEnvelope] = []
        self.streams: dict[UUID, list[EventEnvelope]] = {}
        self.replies: dict[tuple[str, str], KeptReply] = {}

    async def append(self, commit: Commit) -> AppendResult:
        # Checked before anything is written, in the order the Postgres store explains a refusal.
        if commit.idempotency and (kept := self._kept(commit.idempotency.scope, commit.idempotency.key)):
            raise DuplicateCommand(kept.reply, kept.fingerprint)
        for sid, seen in commit.reads:
            if len(self.streams.get(sid, [])) != seen:
                raise ConcurrencyError(sid, seen, len(self.streams.get(sid, [])))
        for w in commit.writes:
            stored = self.streams.get(w.stream_id, [])
            if w.events and len(stored) != w.expected_version:
                raise ConcurrencyError(w.stream_id, w.expected_version, len(stored))
            if w.events and w.expected_hash != (bytes.fromhex(stored[-1].hash) if stored else GENESIS):
                raise RecordRejected(f"stream {w.stream_id}: the first new event does not link")
            for ev in w.events:
                try:
                    msgspec.json.decode(ev.payload)
                except msgspec.DecodeError as e:
                    raise RecordRejected(f"event {ev.event_id}: the payload is not JSON ({e})") from None
        meta = commit.meta
        versions: dict[UUID, int] = {}
        for w in commit.writes:
            stream = self.streams.setdefault(w.stream_id, [])
            for ev, version, prev, digest in chained(w.stream_id, len(stream), w.expected_hash, meta, w.events):
                stored_event = EventEnvelope(
                    position=len(self.log) + 1,
                    event_id=ev.event_id,
                    stream_id=w.stream_id,
                    stream_type=w.stream_type,
                    version=version,
                    event_type=ev.event_type,
                    schema_version=ev.schema_version,
                    occurred_at=meta.occurred_at,
                    actor_id=meta.actor_id,
                    org_id=meta.org_id,
                    correlation_id=meta.correlation_id,
                    causation_id=meta.causation_id,
                    payload=msgspec.Raw(ev.payload),
                    prev_hash=prev.hex(),
                    hash=digest.hex(),
                )
                self.log.append(stored_event)
                stream.append(stored_event)
            versions[w.stream_id] = len(stream)
        position = len(self.log)
        reply = None
        if commit.reply is not None:
            version = next(
                (v for sid, v in versions.items() if str(sid) == commit.reply.id),
                commit.reply.version,
            )
            reply = msgspec.structs.replace(commit.reply, version=version, position=position)
            if commit.idempotency:
                key = (commit.idempotency.scope, commit.idempotency.key)
                self.replies[key] = KeptReply(reply, commit.idempotency.fingerprint)
        return AppendResult(position, versions, reply)

    def _kept(self, scope: str, key: str) -> KeptReply | None:
        kept = self.replies.get((scope, key))
        if kept is None:
            return None
        return KeptReply(msgspec.structs.replace(kept.reply, replayed=True), kept.fingerprint)

    async def read_streams(self, stream_ids: Iterable[UUID]) -> dict[UUID, list[EventEnvelope]]:
        return {sid: list(self.streams.get(sid, [])) for sid in dict.fromkeys(stream_ids)}

    def cached_streams(self, stream_ids: Iterable[UUID]) -> dict[UUID, list[EventEnvelope]]:
        return {sid: list(self.streams[sid]) for sid in stream_ids if sid in self.streams}

    async def read_log(self, after: int, limit: int = 1000) -> list[EventEnvelope]:
        return self.log[after : after + limit]

    async def head(self) -> int:
        return len(self.log)

    async def idempotent_reply(self, scope: str, key: str) -> KeptReply | None:
        return self._kept(scope, key)
