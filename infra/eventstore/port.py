"""The event store port: what handlers, the relay and projectors need from the log."""

from __future__ import annotations

import abc
from collections.abc import Iterable
from uuid import UUID

from infra.eventstore.records import AppendResult, Commit, StoredEvent
from schemas.results import CommandResult


class EventStore(abc.ABC):
    @abc.abstractmethod
    async def append(self, commit: Commit) -> AppendResult:
        """Write all events of `commit` atomically.

        Raises ConcurrencyError when a stream is not at its expected version and DuplicateCommand
        when the idempotency key was used before; nothing is written in either case.
        """

    @abc.abstractmethod
    async def read_streams(self, stream_ids: Iterable[UUID]) -> dict[UUID, list[StoredEvent]]:
        """Events of each stream in version order (missing streams map to an empty list)."""

    async def read_stream(self, stream_id: UUID) -> list[StoredEvent]:
        return (await self.read_streams([stream_id]))[stream_id]

    @abc.abstractmethod
    async def read_log(self, after: int, limit: int = 1000) -> list[StoredEvent]:
        """Events with position > after, in position order, at most `limit`."""

    @abc.abstractmethod
    async def head(self) -> int:
        """The position of the last committed event (0 for an empty log)."""

    @abc.abstractmethod
    async def idempotent_reply(self, scope: str, key: str) -> CommandResult | None:
        """The stored reply of a command already applied under this key, if any."""
