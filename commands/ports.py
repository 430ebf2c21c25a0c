"""The ports a decision uses, handed to every handler through its unit of work (`session.ports`).

Each port is one abstract class with small implementations (the real one here or in `infra`,
tests' fakes subclass the same class). The composition root (`gateway/bootstrap.py`) builds
one `Ports` per process. Ports still to come join `Ports` as fields when their first handler
needs them: LLM, embedder, vector store, lab engine.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from uuid import UUID

from commands.documents import SopDocuments
from domain import ids
from infra.eventlog.seals import SealKey
from infra.mail import Mailer
from infra.passwords import Passwords


class Clock(ABC):
    """The time a decision is taken at."""

    @abstractmethod
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""


class SystemClock(Clock):
    def now(self) -> datetime:
        return datetime.now(UTC)


class Ids(ABC):
    """New ids for aggregates, their parts and events."""

    @abstractmethod
    def new_id(self) -> UUID: ...


class TimeOrderedIds(Ids):
    """UUIDv7 (`domain.ids`): new rows land at the right edge of the store's indexes."""

    new_id = staticmethod(ids.new_id)  # the function itself: no extra call per id


class SignIns(Protocol):
    """The users' sign-ins (`infra.revocations.Revocations`): the bus ends a user's once a decision
    that asks for it is committed (a member removed, a password changed)."""

    async def revoke_user(self, user_id: UUID) -> list[UUID]:
        """End every sign-in of the user; returns the sign-ins (families) ended."""
        ...


@dataclass(frozen=True, slots=True)
class Ports:
    """Everything outside the event store a handler may use."""

    mail: Mailer
    passwords: Passwords
    clock: Clock
    ids: Ids
    documents: SopDocuments  # SOP documents on the blob store (`infra.blobs`)
    signer: SealKey  # the platform's Ed25519 key (the audit seals'): signs certificates
