"""Notifications on the wire: the kinds, the inbox commands and the feed's answers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args
from uuid import UUID

import msgspec
from msgspec import Meta

from schemas.commands import Command

Kind = Literal[
    "enrolment_confirmed",  # the student: their enrolment stands
    "course_revised",  # students of a course: a new revision was published
    "course_archived",  # students of a course: it was archived
    "review_requested",  # the organisation's course managers: a course awaits review
    "course_approved",  # the course's authors: approved, with the feedback
    "course_rejected",  # the course's authors: rejected, with the feedback
    "certificate_ready",  # the student: a certificate was issued
    "order_status",  # the organisation's sales people and who placed it: an order moved on
    "lab_expiring",  # the student: an idle lab session will be stopped soon unless used
    "lab_expired",  # the student: an idle lab session was stopped
]
KINDS: tuple[Kind, ...] = get_args(Kind)
# How each kind is told until the user says otherwise: (in the feed, by mail).
DEFAULTS: dict[str, tuple[bool, bool]] = {
    "enrolment_confirmed": (True, False),
    "course_revised": (True, False),
    "course_archived": (True, True),
    "review_requested": (True, True),
    "course_approved": (True, True),
    "course_rejected": (True, True),
    "certificate_ready": (True, True),
    "order_status": (True, False),
    "lab_expiring": (True, False),
    "lab_expired": (True, False),
}


class MarkNotificationsRead(Command, kw_only=True, frozen=True):
    notification_ids: Annotated[list[UUID], Meta(min_length=1, max_length=500)]


class MarkAllNotificationsRead(Command, kw_only=True, frozen=True):
    """Everything in the feed up to `through` (a notification's position; default: all so far)."""

    through: Annotated[int, Meta(ge=1)] | None = None


class SetNotificationPreference(Command, kw_only=True, frozen=True):
    """Whether a kind of notification shows in the feed and whether it is mailed."""

    kind: Kind
    in_app: bool = True
    email: bool = False


class Notification(msgspec.Struct, kw_only=True):
    notification_id: str
    kind: Kind
    title: str
    body: str
    link: str
    data: dict[str, Any]
    position: int  # the event's log position: the stream's Last-Event-ID, the feed's cursor
    created_at: datetime
    read: bool


class NotificationFeed(msgspec.Struct, kw_only=True):
    items: list[Notification]
    unread: int
    next_before: int | None  # pass as ?before= for older ones
    position: int


class UnreadCount(msgspec.Struct, kw_only=True):
    unread: int
    position: int


class StreamTicket(msgspec.Struct, kw_only=True):
    """Opens the caller's notification stream as `GET {url}` (the ticket in its query) for
    `expires_in` seconds, with no Authorization header: for a browser's EventSource."""

    ticket: str
    expires_in: int
    url: str


class Preference(msgspec.Struct, kw_only=True):
    kind: Kind
    in_app: bool
    email: bool


class Preferences(msgspec.Struct, kw_only=True):
    items: list[Preference]
    position: int


# -- queries of the messaging API ------------------------------------------------------------


class ListNotifications(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """The caller's feed, newest first."""

    before: Annotated[int, Meta(ge=1)] | None = None
    limit: Annotated[int, Meta(ge=1, le=200)] = 50
    unread: bool = False
    position: Annotated[int, Meta(ge=0)] | None = None


class CountUnread(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """How many of the caller's notifications are unread."""

    position: Annotated[int, Meta(ge=0)] | None = None


class ListPreferences(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """How each kind of notification reaches the caller."""

    position: Annotated[int, Meta(ge=0)] | None = None
