"""The review queue of an organisation, the review history of a course, and one review."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec

from domain.errors import CourseNotFound, Forbidden, ReviewNotFound
from projections.queries.reader import Reader, Viewer, reach
from schemas.access import Query, Reach
from schemas.readmodels import ReviewComment, ReviewList, ReviewView

_SELECT = (
    "SELECT r.review_id, r.course_id, coalesce(c.title, ''), r.revision, r.author_id,"
    " r.requested_by, r.requested_at, r.reviewer_id, r.status, r.feedback, r.decided_at,"
    " r.comments FROM rm_reviews.reviews r LEFT JOIN rm_reviews.courses c USING (course_id)"
)


def _view(r: tuple[Any, ...]) -> ReviewView:
    return ReviewView(
        review_id=str(r[0]),
        course_id=str(r[1]),
        course_title=r[2],
        revision=r[3],
        author_id=str(r[4]),
        requested_by=str(r[5]),
        requested_at=r[6],
        reviewer_id=str(r[7]) if r[7] else None,
        status=r[8],
        feedback=r[9],
        decided_at=r[10],
        comments=msgspec.convert(r[11], list[ReviewComment]),
    )


async def review_queue(
    reader: Reader,
    viewer: Viewer,
    *,
    mine: bool = False,
    limit: int = 50,
    position: int | None = None,
) -> ReviewList:
    """Courses awaiting review in the viewer's organisation, oldest request first."""
    if reach(viewer, Query.REVIEW_QUEUE, viewer.org_id) is Reach.NONE:
        raise Forbidden("the review queue is for course managers and organisation admins")
    await reader.reach("reviews", position)
    stmt = _SELECT + " WHERE r.org_id = %s AND r.status = 'open'"
    params: list[Any] = [viewer.org_id]
    if mine:
        stmt += " AND r.reviewer_id = %s"
        params.append(viewer.user_id)
    stmt += " ORDER BY r.requested_at, r.review_id LIMIT %s"
    params.append(max(1, min(limit, 500)))
    async with reader.connection() as conn:
        at = await reader.checkpoint(conn, "reviews")
        cur = await conn.execute(stmt, params)
        rows = await cur.fetchall()
    return ReviewList(items=[_view(r) for r in rows], position=at)


async def review_history(reader: Reader, viewer: Viewer, course_id: UUID, *, position: int | None = None) -> ReviewList:
    """Every review round of a course, newest first: for its authors, managers and admins."""
    await reader.reach("reviews", position)
    async with reader.connection() as conn:
        at = await reader.checkpoint(conn, "reviews")
        cur = await conn.execute("SELECT org_id FROM rm_reviews.courses WHERE course_id = %s", [course_id])
        found = await cur.fetchone()
        if found is None or reach(viewer, Query.REVIEW_HISTORY, found[0]) is Reach.NONE:
            raise CourseNotFound(f"course {course_id} not found")
        cur = await conn.execute(
            _SELECT + " WHERE r.course_id = %s ORDER BY r.requested_at DESC, r.review_id",
            [course_id],
        )
        rows = await cur.fetchall()
    return ReviewList(items=[_view(r) for r in rows], position=at)


async def review_detail(reader: Reader, viewer: Viewer, review_id: UUID, *, position: int | None = None) -> ReviewView:
    """One review round, its comments included: for whoever may read its course's history."""
    await reader.reach("reviews", position)
    async with reader.connection() as conn:
        with_org = _SELECT.replace("SELECT ", "SELECT r.org_id, ", 1)
        cur = await conn.execute(with_org + " WHERE r.review_id = %s", [review_id])
        found = await cur.fetchone()
    if found is None or reach(viewer, Query.REVIEW_HISTORY, found[0]) is Reach.NONE:
        raise ReviewNotFound(f"review {review_id} not found")
    return _view(found[1:])
