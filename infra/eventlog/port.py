"""The event store port: what handlers, the relay and projectors need from the log."""

from __future__ import annotations

import abc
from collections.abc import Iterable
from uuid import UUID

from infra.eventlog.records import AppendResult, Commit, KeptReply
from schemas.envelope import EventEnvelope


class EventStore(abc.ABC):
    @abc.abstractmethod
    async def append(self, commit: Commit) -> AppendResult:
        """Write all events of `commit` atomically.

        Raises ConcurrencyError when a written stream is not at its expected version or a read
        stream (`commit.reads`) is no longer at the version read, and DuplicateCommand when the
        idempotency key was used before; nothing is written in any of these cases.
        """

    @abc.abstractmethod
    async def read_streams(self, stream_ids: Iterable[UUID]) -> dict[UUID, list[EventEnvelope]]:
        """Events of each stream in version order (missing streams map to an empty list)."""

    def cached_streams(self, stream_ids: Iterable[UUID]) -> dict[UUID, list[EventEnvelope]]:
        """What this process already holds of these streams, with no I/O; possibly stale.

        Streams it holds nothing of are left out. A decision taken on these is only safe when
        its commit lists them in `reads` (or writes them), so that a stale one conflicts.
        """
        return {}

    async def read_stream(self, stream_id: UUID) -> list[EventEnvelope]:
        return (await self.read_streams([stream_id]))[stream_id]

    @abc.abstractmethod
    async def read_log(self, after: int, limit: int = 1000) -> list[EventEnvelope]:
        """Events with position > after, in position order, at most `limit`."""

    @abc.abstractmethod
    async def head(self) -> int:
        """The position of the last committed event (0 for an empty log)."""

    @abc.abstractmethod
    async def idempotent_reply(self, scope: str, key: str) -> KeptReply | None:
        """The stored reply of a command already applied under this key, if any, with the
        fingerprint of the request it answered (the caller compares it with its own)."""
