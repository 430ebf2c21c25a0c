"""Cohorts: managers see every cohort of their organisation, trainers the cohorts they train;
a cohort's students and their progress (through `privacy.taught_by`, like every student list)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import sql

from domain.errors import CohortNotFound, Forbidden
from projections.queries.privacy import taught_by
from projections.queries.progress import SELECT, progress_of
from projections.queries.reader import Reader, Viewer, reach
from schemas.access import Query, Reach
from schemas.readmodels import CohortDetail, CohortList, CohortView

_COHORTS = (
    "SELECT k.cohort_id, k.course_id, coalesce(c.title, ''), k.org_id, k.name, k.starts_on, k.trainers,"
    " (SELECT count(*) FROM rm_progress.enrollments m WHERE m.cohort_id = k.cohort_id), k.created_at"
    " FROM rm_progress.cohorts k LEFT JOIN rm_progress.courses c USING (course_id)"
)


def _view(r: tuple[Any, ...]) -> CohortView:
    return CohortView(
        cohort_id=str(r[0]),
        course_id=str(r[1]),
        course_title=r[2],
        org_id=str(r[3]),
        name=r[4],
        starts_on=r[5],
        trainer_ids=[str(t) for t in r[6]],
        students=int(r[7]),
        created_at=r[8],
    )


def _visible(viewer: Viewer) -> tuple[list[sql.Composable], list[Any]]:
    """The conditions on `rm_progress.cohorts k` for the cohorts the viewer sees."""
    found = reach(viewer, Query.COHORTS, viewer.org_id)
    if found is Reach.NONE:
        raise Forbidden("cohorts are for course managers, organisation admins and their trainers")
    where: list[sql.Composable] = [sql.SQL("k.org_id = %s")]
    params: list[Any] = [viewer.org_id]
    if found is Reach.OWN:
        where.append(sql.SQL("%s = ANY(k.trainers)"))
        params.append(viewer.user_id)
    return where, params


async def cohorts(
    reader: Reader,
    viewer: Viewer,
    *,
    course_id: UUID | None = None,
    limit: int = 200,
    position: int | None = None,
) -> CohortList:
    """The cohorts the viewer sees, latest start first."""
    where, params = _visible(viewer)
    await reader.reach("progress", position)
    if course_id is not None:
        where.append(sql.SQL("k.course_id = %s"))
        params.append(course_id)
    params.append(max(1, min(limit, 1000)))
    stmt = sql.SQL("{select} WHERE {where} ORDER BY k.starts_on DESC, k.cohort_id LIMIT %s").format(
        select=sql.SQL(_COHORTS), where=sql.SQL(" AND ").join(where)
    )
    async with reader.connection() as conn:
        at = await reader.checkpoint(conn, "progress")
        cur = await conn.execute(stmt, params)
        rows = await cur.fetchall()
    return CohortList(items=[_view(r) for r in rows], position=at)


async def cohort_detail(
    reader: Reader, viewer: Viewer, cohort_id: UUID, *, position: int | None = None
) -> CohortDetail:
    """One cohort and the progress of its students (for its trainers and the organisation's
    managers; anyone else is told it does not exist)."""
    where, params = _visible(viewer)
    await reader.reach("progress", position)
    where.append(sql.SQL("k.cohort_id = %s"))
    params.append(cohort_id)
    stmt = sql.SQL("{select} WHERE {where}").format(select=sql.SQL(_COHORTS), where=sql.SQL(" AND ").join(where))
    members = sql.SQL("{select} WHERE e.cohort_id = %s AND {taught} ORDER BY e.student_id").format(
        select=sql.SQL(SELECT), taught=taught_by(viewer)
    )
    async with reader.connection() as conn:
        at = await reader.checkpoint(conn, "progress")
        cur = await conn.execute(stmt, params)
        found = await cur.fetchone()
        if found is None:
            raise CohortNotFound(f"cohort {cohort_id} not found")
        cur = await conn.execute(members, [cohort_id])
        rows = await cur.fetchall()
    return CohortDetail(cohort=_view(found), students=[progress_of(r, detailed=True) for r in rows], position=at)
