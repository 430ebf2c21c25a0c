"""The audit over HTTP: a stream's history, its state at a point, diffs, verification, exports.

Thin: parse, hand the caller to `audit.access.AuditView` (which applies the authorisation
table), return its answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from litestar import Controller, Response, get
from litestar.exceptions import ValidationException
from litestar.params import FromPath, PathParameter, QueryParameter

from gateway.audit.access import Auditor, AuditView, open_view
from gateway.audit.export import InclusionProof, export_lines
from gateway.audit.history import MAX_PAGE, HistoryPage
from gateway.audit.replay import State
from gateway.audit.service import Difference, Point, parse_point
from gateway.audit.xapi import Learning, Statement
from gateway.auth import Caller
from gateway.dispatch import CallerDep, ServicesDep, route
from gateway.services import Services
from infra.eventlog.audit import Verification
from infra.eventlog.reader import Match

_POINT = "a version number or an ISO 8601 time"
PointText = Annotated[str, QueryParameter(max_length=40, description=_POINT)]
MaybePointText = Annotated[str | None, QueryParameter(max_length=40, description=_POINT + "; now if left out")]


async def view(services: Services, caller: Caller) -> AuditView:
    return await open_view(services.audit, services.store, Auditor(caller.user_id, caller.org_id, caller.roles))


def point(text: str) -> Point:
    try:
        return parse_point(text)
    except ValueError as e:
        raise ValidationException(str(e)) from None


class AuditController(Controller):
    path = "/audit"
    tags = ["audit"]

    @route(get, "/streams/{stream_id:uuid}/history", summary="A stream's events in order", status=200)
    async def history(
        self,
        services: ServicesDep,
        caller: CallerDep,
        stream_id: FromPath[UUID],
        event_type: Annotated[list[str] | None, QueryParameter(name="type", description="event types, any of")] = None,
        actor: Annotated[str | None, QueryParameter(max_length=100)] = None,
        since: Annotated[datetime | None, QueryParameter(description="events at or after")] = None,
        until: Annotated[datetime | None, QueryParameter(description="events before")] = None,
        after: Annotated[int, QueryParameter(ge=0, description="cursor: the last page's next_after")] = 0,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = 100,
        linked: Annotated[bool, QueryParameter(description="with the streams that name it")] = True,
    ) -> HistoryPage:
        match = Match(event_types=tuple(event_type or ()), actor_id=actor, since=since, until=until)
        return await (await view(services, caller)).history(stream_id, match, after=after, limit=limit, linked=linked)

    @route(get, "/streams/{stream_id:uuid}/state", summary="A stream's state at a version or time", status=200)
    async def state(
        self, services: ServicesDep, caller: CallerDep, stream_id: FromPath[UUID], at: MaybePointText = None
    ) -> State:
        return await (await view(services, caller)).state(stream_id, point(at) if at else None)

    @route(get, "/streams/{stream_id:uuid}/diff", summary="What changed between two versions or times", status=200)
    async def diff(
        self, services: ServicesDep, caller: CallerDep, stream_id: FromPath[UUID], before: PointText, after: PointText
    ) -> Difference:
        return await (await view(services, caller)).diff(stream_id, point(before), point(after))

    @route(get, "/streams/{stream_id:uuid}/verify", summary="Verify a stream's hash chain", status=200)
    async def verify_stream(self, services: ServicesDep, caller: CallerDep, stream_id: FromPath[UUID]) -> Verification:
        return await (await view(services, caller)).verify_stream(stream_id)

    @route(get, "/organisations/{org_id:uuid}/verify", summary="Verify an organisation's streams", status=200)
    async def verify_organisation(
        self, services: ServicesDep, caller: CallerDep, org_id: FromPath[UUID]
    ) -> Verification:
        return await (await view(services, caller)).verify_organisation(org_id)

    @route(get, "/log/verify", summary="Verify the whole log: every chain, position and seal", status=200)
    async def verify_log(self, services: ServicesDep, caller: CallerDep) -> Verification:
        return await (await view(services, caller)).verify_log()

    @route(
        get,
        "/log/proofs/{position:int}",
        summary="The Merkle inclusion proof of one event under the seal that covers it",
        status=200,
    )
    async def proof(
        self, services: ServicesDep, caller: CallerDep, position: Annotated[int, PathParameter(ge=1)]
    ) -> InclusionProof:
        return await (await view(services, caller)).proof(position)

    @route(
        get,
        "/streams/{stream_id:uuid}/export",
        summary="A stream's history with its linked streams as JSON Lines, manifest last",
        status=200,
        media_type="application/x-ndjson",
    )
    async def export(self, services: ServicesDep, caller: CallerDep, stream_id: FromPath[UUID]) -> Response[bytes]:
        found = await (await view(services, caller)).export_stream(stream_id)
        return Response(b"".join(export_lines(found)), media_type="application/x-ndjson")

    @route(
        get,
        "/organisations/{org_id:uuid}/export",
        summary="An organisation's streams as JSON Lines, manifest last",
        status=200,
        media_type="application/x-ndjson",
    )
    async def export_organisation(
        self, services: ServicesDep, caller: CallerDep, org_id: FromPath[UUID]
    ) -> Response[bytes]:
        found = await (await view(services, caller)).export_organisation(org_id)
        return Response(b"".join(export_lines(found)), media_type="application/x-ndjson")

    @route(
        get,
        "/streams/{course_id:uuid}/xapi",
        summary="A course's learning records as xAPI 1.0.3 statements",
        status=200,
    )
    async def course_xapi(self, services: ServicesDep, caller: CallerDep, course_id: FromPath[UUID]) -> list[Statement]:
        learning = Learning(services.settings.public_url)
        return await (await view(services, caller)).course_learning_records(course_id, learning)

    @route(
        get, "/organisations/{org_id:uuid}/xapi", summary="An organisation's learning records (xAPI 1.0.3)", status=200
    )
    async def organisation_xapi(
        self, services: ServicesDep, caller: CallerDep, org_id: FromPath[UUID]
    ) -> list[Statement]:
        learning = Learning(services.settings.public_url)
        return await (await view(services, caller)).organisation_learning_records(org_id, learning)
