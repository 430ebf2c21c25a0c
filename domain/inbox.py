"""A user's inbox: what they read of their notification feed and how they want to be told.

The feed itself is derived (the `notifications` read model builds it from the events that
concern each user); what only the user decides is recorded here, one stream per user: which
notifications they read, "all read up to here", and per kind of notification whether it shows
in the feed and whether it is mailed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from domain import errors
from domain.aggregate import Aggregate, Event
from domain.ids import name_id

_NS = UUID("b6a3c2d1-7e4f-4a9b-8c5d-1f2e3a4b5c6d")


def inbox_id(user_id: UUID) -> UUID:
    return name_id(_NS, f"inbox:{user_id}")


class Inbox(Aggregate):
    @dataclass(frozen=True)
    class Read(Event):
        user_id: UUID
        notification_ids: tuple[UUID, ...]
        at: datetime

    @dataclass(frozen=True)
    class AllRead(Event):
        user_id: UUID
        through: int  # every notification from an event at or before this log position
        at: datetime

    @dataclass(frozen=True)
    class PreferenceSet(Event):
        user_id: UUID
        kind: str
        in_app: bool
        email: bool

    def _init_state(self) -> None:
        self.user_id: UUID | None = None
        self.read_through = 0
        self.preferences: dict[str, tuple[bool, bool]] = {}

    def read(self, user_id: UUID, notification_ids: tuple[UUID, ...], at: datetime) -> None:
        if not notification_ids:
            raise errors.RuleViolation("name at least one notification")
        self._record(self.Read(user_id, tuple(dict.fromkeys(notification_ids)), at))

    def read_all(self, user_id: UUID, through: int, at: datetime) -> bool:
        """Everything up to `through` read; False (no event) when it was already."""
        if through <= self.read_through:
            return False
        self._record(self.AllRead(user_id, through, at))
        return True

    def prefer(self, user_id: UUID, kind: str, in_app: bool, email: bool) -> bool:
        """Set how `kind` is told; False (no event) when that is how it is already."""
        if self.preferences.get(kind) == (in_app, email):
            return False
        self._record(self.PreferenceSet(user_id, kind, in_app, email))
        return True

    def _on_Read(self, e: Read) -> None:
        self.user_id = e.user_id

    def _on_AllRead(self, e: AllRead) -> None:
        self.user_id, self.read_through = e.user_id, max(self.read_through, e.through)

    def _on_PreferenceSet(self, e: PreferenceSet) -> None:
        self.user_id = e.user_id
        self.preferences[e.kind] = (e.in_app, e.email)
