"""The courses a caller writes: their own drafts and courses in review, without reading a colleague's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.errors import Forbidden
from projections.queries.reader import Reader, Viewer, reach
from schemas.access import Query, Reach
from schemas.readmodels import AuthoredCourse, AuthoredList, CourseStatus

_SELECT = (
    "SELECT course_id, draft->'details'->>'title', status, revision, author_id, co_authors, updated_at"
    " FROM rm_catalog.courses WHERE org_id = %s AND (author_id = %s OR %s = ANY(co_authors))"
    " AND status <> 'deleted'"
)


def _item(r: tuple[Any, ...]) -> AuthoredCourse:
    return AuthoredCourse(
        course_id=str(r[0]),
        title=r[1],
        status=r[2],
        revision=r[3],
        author_id=str(r[4]),
        co_author_ids=[str(a) for a in r[5]],
        updated_at=r[6],
    )


async def authored_courses(
    reader: Reader,
    viewer: Viewer,
    *,
    status: CourseStatus | Sequence[CourseStatus] | None = None,
    limit: int = 200,
    position: int | None = None,
) -> AuthoredList:
    """The viewer's courses in their organisation (author or co-author), recently changed first;
    with `status`, those in it (or in any of several: drafts and courses in review at once)."""
    if reach(viewer, Query.AUTHORED_COURSES, viewer.org_id) is Reach.NONE:
        raise Forbidden("only authors have courses of their own")
    await reader.reach("catalog", position)
    stmt = _SELECT
    params: list[Any] = [viewer.org_id, viewer.user_id, viewer.user_id]
    if status is not None:
        stmt += " AND status = ANY(%s)"
        params.append([status] if isinstance(status, str) else list(status))
    stmt += " ORDER BY updated_at DESC, course_id LIMIT %s"
    params.append(max(1, min(limit, 1000)))
    async with reader.connection() as conn:
        at = await reader.checkpoint(conn, "catalog")
        cur = await conn.execute(stmt, params)
        rows = await cur.fetchall()
    return AuthoredList(items=[_item(r) for r in rows], position=at)
