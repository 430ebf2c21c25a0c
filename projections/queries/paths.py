"""Learning paths of an organisation, and a student's progress along one."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import sql

from domain.errors import EnrollmentNotFound, Forbidden, LearningPathNotFound
from projections.queries.privacy import taught_by, teaches
from projections.queries.reader import Reader, Viewer, reach
from schemas.access import Query, Reach
from schemas.readmodels import LearningPathList, LearningPathView, PathProgress, PathStepProgress, PathStepView

_PATHS = "SELECT path_id, org_id, title, description, steps, created_at, updated_at FROM rm_progress.paths"


async def _titles(conn: Any, course_ids: list[UUID]) -> dict[str, str]:
    cur = await conn.execute("SELECT course_id, title FROM rm_progress.courses WHERE course_id = ANY(%s)", [course_ids])
    return {str(r[0]): r[1] for r in await cur.fetchall()}


def _view(r: tuple[Any, ...], titles: dict[str, str]) -> LearningPathView:
    return LearningPathView(
        path_id=str(r[0]),
        org_id=str(r[1]),
        title=r[2],
        description=r[3],
        steps=[
            PathStepView(course_id=s["course_id"], title=titles.get(s["course_id"], ""), requires=s["requires"])
            for s in r[4]
        ],
        created_at=r[5],
        updated_at=r[6],
    )


def _require_reader(viewer: Viewer) -> None:
    if reach(viewer, Query.LEARNING_PATHS, viewer.org_id) is Reach.NONE:
        raise Forbidden("learning paths are for the organisation's members")


def _course_ids(rows: list[tuple[Any, ...]]) -> list[UUID]:
    return list({UUID(s["course_id"]) for r in rows for s in r[4]})


async def learning_paths(reader: Reader, viewer: Viewer, *, position: int | None = None) -> LearningPathList:
    """The learning paths of the viewer's organisation, by title."""
    _require_reader(viewer)
    await reader.reach("progress", position)
    async with reader.connection() as conn:
        at = await reader.checkpoint(conn, "progress")
        cur = await conn.execute(_PATHS + " WHERE org_id = %s ORDER BY title, path_id", [viewer.org_id])
        rows = await cur.fetchall()
        titles = await _titles(conn, _course_ids(rows))
    return LearningPathList(items=[_view(r, titles) for r in rows], position=at)


async def _path(conn: Any, viewer: Viewer, path_id: UUID) -> tuple[Any, ...]:
    cur = await conn.execute(_PATHS + " WHERE path_id = %s", [path_id])
    row = await cur.fetchone()
    if row is None or reach(viewer, Query.LEARNING_PATHS, row[1]) is Reach.NONE:
        raise LearningPathNotFound(f"learning path {path_id} not found")
    return tuple(row)


async def learning_path(
    reader: Reader, viewer: Viewer, path_id: UUID, *, position: int | None = None
) -> LearningPathView:
    _require_reader(viewer)
    await reader.reach("progress", position)
    async with reader.connection() as conn:
        row = await _path(conn, viewer, path_id)
        titles = await _titles(conn, _course_ids([row]))
    return _view(row, titles)


async def path_progress(
    reader: Reader,
    viewer: Viewer,
    path_id: UUID,
    *,
    student_id: UUID | None = None,
    position: int | None = None,
) -> PathProgress:
    """A student's progress along a path: the viewer's own, or a student's for those who see
    them (`privacy`); each course's enrolment status, and what is still missing before it."""
    _require_reader(viewer)
    await reader.reach("progress", position)
    student = student_id or viewer.user_id
    if student != viewer.user_id and not await teaches(reader, viewer, student):
        raise EnrollmentNotFound(f"no student {student} among those you see")
    seen: sql.Composable = sql.SQL("TRUE") if student == viewer.user_id else taught_by(viewer)
    enrolments = sql.SQL(
        "SELECT e.course_id, e.status, e.progress, e.ever_completed FROM rm_progress.enrollments e"
        " LEFT JOIN rm_progress.courses c USING (course_id) WHERE e.student_id = %s AND e.course_id = ANY(%s) AND {}"
    ).format(seen)
    async with reader.connection() as conn:
        at = await reader.checkpoint(conn, "progress")
        row = await _path(conn, viewer, path_id)
        course_ids = _course_ids([row])
        titles = await _titles(conn, course_ids)
        cur = await conn.execute(enrolments, [student, course_ids])
        found = {str(r[0]): r for r in await cur.fetchall()}
    done = {cid for cid, r in found.items() if r[3]}
    steps: list[PathStepProgress] = []
    next_course: str | None = None
    for s in row[4]:
        cid = s["course_id"]
        e = found.get(cid)
        missing = [r for r in s["requires"] if r not in done]
        if next_course is None and cid not in done and not missing:
            next_course = cid
        steps.append(
            PathStepProgress(
                course_id=cid,
                title=titles.get(cid, ""),
                requires=s["requires"],
                status=e[1] if e else "not_enrolled",
                progress=round(float(e[2]), 2) if e else 0.0,
                completed=cid in done,
                missing=missing,
            )
        )
    completed = sum(1 for s in steps if s.completed)
    return PathProgress(
        path_id=str(row[0]),
        title=row[2],
        student_id=str(student),
        courses=len(steps),
        completed=completed,
        progress=round(100.0 * completed / len(steps), 2) if steps else 0.0,
        next_course_id=next_course,
        steps=steps,
        position=at,
    )
