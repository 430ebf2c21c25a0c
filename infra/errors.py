"""Our own error types for infrastructure failures; adapters translate library errors into these."""

from __future__ import annotations

from uuid import UUID

from schemas.results import CommandResult


class InfraError(Exception):
    """Root of every error an adapter raises."""


class Unavailable(InfraError):
    """A backing service (database, broker, cache) cannot be reached right now."""

    def __init__(self, service: str, detail: str = "") -> None:
        super().__init__(f"{service} unavailable{': ' + detail if detail else ''}")
        self.service = service


class ConcurrencyError(InfraError):
    """A stream moved on since it was read: the caller decided on stale state."""

    def __init__(self, stream_id: UUID, expected: int, actual: int) -> None:
        super().__init__(f"stream {stream_id} is at version {actual}, not {expected}")
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class DuplicateCommand(InfraError):
    """The idempotency key was used before: carries the first answer and the fingerprint of the
    request it answered."""

    def __init__(self, reply: CommandResult, fingerprint: str = "") -> None:
        super().__init__("command already applied")
        self.reply = reply
        self.fingerprint = fingerprint


class RecordRejected(InfraError):
    """The store refused a record (malformed payload, constraint); nothing was written."""
