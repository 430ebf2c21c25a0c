"""The audit as one caller may see it: `schemas.access.QUERIES[Query.AUDIT]` decides, here, for
every edge (HTTP, NATS), so no edge decides alone. An auditor reaches their organisation's
streams; a platform auditor (and a platform admin) every organisation and the whole log.
Another organisation's stream reads as missing. A platform auditor's grant is checked on every
request (`open_view`), so a revoked one stops at once, whatever tokens are still about."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from uuid import UUID

from commands.errors import PermissionDenied
from commands.identity import read
from domain.identity import User
from gateway.audit.export import Export, InclusionProof
from gateway.audit.history import HistoryPage
from gateway.audit.replay import State, UnknownStream
from gateway.audit.service import AuditLog, Difference, Point
from gateway.audit.xapi import Learning, Statement
from infra.eventlog import EventStore
from infra.eventlog.audit import Verification
from infra.eventlog.reader import Match
from schemas.access import QUERIES, Query, Reach
from schemas.roles import PLATFORM_AUDITOR, is_platform_admin


@dataclass(frozen=True)
class Auditor:
    """Who asks: the user, the organisation they act in and their roles there."""

    user_id: UUID
    org_id: UUID
    roles: Collection[str]


async def open_view(audit: AuditLog, store: EventStore, auditor: Auditor) -> AuditView:
    """The view of `auditor`, whose platform auditor role (if the token carries it) is confirmed
    against their user stream first; a revoked one audits as their other roles allow."""
    if PLATFORM_AUDITOR in auditor.roles and not is_platform_admin(auditor.roles):
        user = await read(store, User, auditor.user_id)
        if not user.platform_auditor:
            auditor = Auditor(auditor.user_id, auditor.org_id, frozenset(auditor.roles) - {PLATFORM_AUDITOR})
    return AuditView(audit, auditor)


class AuditView:
    """`AuditLog`'s questions, each checked against the caller's reach first."""

    def __init__(self, audit: AuditLog, auditor: Auditor) -> None:
        self.audit = audit
        self.auditor = auditor
        permission = QUERIES[Query.AUDIT]
        self.reach = permission.reach(auditor.roles)
        if self.reach is Reach.NONE:
            raise PermissionDenied(f"the audit needs one of: {permission.describe()}")

    async def _stream(self, stream_id: UUID) -> None:
        if self.reach is not Reach.PLATFORM and await self.audit.owner(stream_id) != str(self.auditor.org_id):
            raise UnknownStream(f"no stream {stream_id}")

    def _organisation(self, org_id: UUID) -> None:
        if self.reach is not Reach.PLATFORM and org_id != self.auditor.org_id:
            raise PermissionDenied("an auditor audits their own organisation only")

    async def history(self, stream_id: UUID, match: Match, *, after: int, limit: int, linked: bool) -> HistoryPage:
        await self._stream(stream_id)
        return await self.audit.history(stream_id, match, after=after, limit=limit, linked=linked)

    async def state(self, stream_id: UUID, at: Point | None) -> State:
        await self._stream(stream_id)
        return await self.audit.state(stream_id, at)

    async def diff(self, stream_id: UUID, before: Point, after: Point) -> Difference:
        await self._stream(stream_id)
        return await self.audit.diff(stream_id, before, after)

    async def verify_stream(self, stream_id: UUID) -> Verification:
        await self._stream(stream_id)
        return await self.audit.verify_stream(stream_id)

    async def verify_organisation(self, org_id: UUID) -> Verification:
        self._organisation(org_id)
        return await self.audit.verify_organisation(str(org_id))

    async def export_stream(self, stream_id: UUID) -> Export:
        await self._stream(stream_id)
        return await self.audit.export_stream(stream_id)

    async def export_organisation(self, org_id: UUID) -> Export:
        self._organisation(org_id)
        return await self.audit.export_organisation(str(org_id))

    async def course_learning_records(self, course_id: UUID, learning: Learning) -> list[Statement]:
        await self._stream(course_id)
        return await self.audit.course_learning_records(course_id, learning)

    async def organisation_learning_records(self, org_id: UUID, learning: Learning) -> list[Statement]:
        self._organisation(org_id)
        return await self.audit.organisation_learning_records(str(org_id), learning)

    async def proof(self, position: int) -> InclusionProof:
        """An event's inclusion proof under its seal (an event of another organisation reads as
        missing)."""
        if self.reach is not Reach.PLATFORM:
            event = await self.audit.event(position)
            if event.org_id != str(self.auditor.org_id):
                raise UnknownStream(f"no event at position {position}")
        return await self.audit.proof(position)

    async def verify_log(self) -> Verification:
        if self.reach is not Reach.PLATFORM:
            raise PermissionDenied("verifying the whole log is for platform auditors and platform admins")
        return await self.audit.verify_log()
