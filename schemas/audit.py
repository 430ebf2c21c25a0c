"""The auditors' questions on the messaging API (`<prefix>.api.v1.audit.*`): the same questions
the HTTP routes under `/audit` take as path and query parameters, as JSON request bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec
from msgspec import Meta

# A point in a stream's life: a version number, or an ISO 8601 time.
Point = Annotated[int, Meta(ge=1)] | datetime
HISTORY_PAGE_MAX = 1000


class AuditQuery(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Base of the audit requests."""


class AuditHistory(AuditQuery, kw_only=True, frozen=True):
    """A stream's events in order (a course's with its reviews, enrolments and orders), one page."""

    stream_id: UUID
    types: Annotated[list[Annotated[str, Meta(max_length=100)]], Meta(max_length=100)] = []
    actor: Annotated[str, Meta(max_length=100)] | None = None
    since: datetime | None = None  # events at or after
    until: datetime | None = None  # events before
    after: Annotated[int, Meta(ge=0)] = 0  # cursor: the last page's next_after
    limit: Annotated[int, Meta(ge=1, le=HISTORY_PAGE_MAX)] = 100
    linked: bool = True  # with the streams that name it


class AuditState(AuditQuery, kw_only=True, frozen=True):
    """A stream's state at a version or time (now if `at` is left out), replayed by its aggregate."""

    stream_id: UUID
    at: Point | None = None


class AuditDiff(AuditQuery, kw_only=True, frozen=True):
    """What changed in a stream's state between two versions or times."""

    stream_id: UUID
    before: Point
    after: Point


class AuditVerify(AuditQuery, kw_only=True, frozen=True):
    """Verify one stream, one organisation's streams, or (neither named) the whole log and its seals."""

    stream_id: UUID | None = None
    org_id: UUID | None = None


class AuditProof(AuditQuery, kw_only=True, frozen=True):
    """The Merkle inclusion proof of the event at `position` under the seal that covers it."""

    position: Annotated[int, Meta(ge=1)]


class AuditExport(AuditQuery, kw_only=True, frozen=True):
    """Export a stream (a course: with its linked streams) or an organisation as JSON Lines."""

    stream_id: UUID | None = None
    org_id: UUID | None = None


class ExportReady(msgspec.Struct, kw_only=True, frozen=True):
    """An export written to the object store: a presigned URL to GET it from until it expires."""

    url: str
    expires_at: datetime
    sha256: str  # of the whole file
    size: int
    events: int
    streams: int
    seals: int
