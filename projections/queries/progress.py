"""A student's courses and progress; an instructor's students and theirs."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from psycopg import sql

from domain.errors import EnrollmentNotFound, Forbidden
from projections.queries.privacy import sees_students, taught_by
from projections.queries.reader import Reader, Viewer
from schemas.readmodels import (
    EnrollmentProgress,
    FeedbackView,
    LessonProgress,
    ModuleProgress,
    ProgressList,
    QuizResult,
)

SELECT = (
    "SELECT e.course_id, coalesce(c.title, ''), e.student_id, e.status, e.round, e.revision,"
    " e.enrolled_at, e.completed_at, e.dropped_at, e.last_activity, e.lessons_done,"
    " e.lessons_total, e.progress, e.outline, e.done, e.modules_done, e.quizzes, c.names,"
    " e.cohort_id, e.archived, e.feedback"
    " FROM rm_progress.enrollments e LEFT JOIN rm_progress.courses c USING (course_id)"
)


def _at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def progress_of(r: tuple[Any, ...], *, detailed: bool) -> EnrollmentProgress:
    """One row of `SELECT` as the enrolment's progress (modules, quizzes and feedback if `detailed`)."""
    out = EnrollmentProgress(
        course_id=str(r[0]),
        course_title=r[1],
        student_id=str(r[2]),
        status=r[3],
        round=r[4],
        revision=r[5],
        enrolled_at=r[6],
        completed_at=r[7],
        dropped_at=r[8],
        last_activity=r[9],
        lessons_done=r[10],
        lessons_total=r[11],
        progress=r[12],
        cohort_id=str(r[18]) if r[18] else None,
        archived=r[19],
    )
    if detailed:
        outline, done, modules_done, quizzes, names = r[13], r[14], r[15], r[16], r[17] or {}
        out.modules = [
            ModuleProgress(
                module_id=m["module_id"],
                title=names.get(m["module_id"], ""),
                progress=(
                    round(
                        100.0 * sum(1 for i in m["lesson_ids"] if i in done) / len(m["lesson_ids"]),
                        2,
                    )
                    if m["lesson_ids"]
                    else 100.0
                ),
                completed_at=_at(modules_done.get(m["module_id"])),
                lessons=[
                    LessonProgress(lesson_id=i, title=names.get(i, ""), completed_at=_at(done.get(i)))
                    for i in m["lesson_ids"]
                ],
            )
            for m in outline
        ]
        out.quizzes = msgspec.convert(quizzes, list[QuizResult])
        out.feedback = msgspec.convert(r[20], list[FeedbackView])
    return out


async def my_courses(
    reader: Reader, viewer: Viewer, *, archived: bool = False, position: int | None = None
) -> ProgressList:
    """The viewer's enrolments, most recently active first, with progress per module and lesson;
    those they archived only when `archived` (and then only those)."""
    await reader.reach("progress", position)
    async with reader.connection() as conn:
        at = await reader.checkpoint(conn, "progress")
        cur = await conn.execute(
            SELECT + " WHERE e.student_id = %s AND e.archived = %s ORDER BY e.last_activity DESC, e.course_id",
            [viewer.user_id, archived],
        )
        rows = await cur.fetchall()
    return ProgressList(items=[progress_of(r, detailed=True) for r in rows], position=at)


async def my_course(
    reader: Reader,
    viewer: Viewer,
    course_id: UUID,
    *,
    student_id: UUID | None = None,
    position: int | None = None,
) -> EnrollmentProgress:
    """One enrolment in detail: the viewer's, or a student's for those who teach the course."""
    await reader.reach("progress", position)
    student = student_id or viewer.user_id
    where: list[sql.Composable] = [sql.SQL("e.course_id = %s AND e.student_id = %s")]
    if student != viewer.user_id:
        where.append(taught_by(viewer))
    stmt = sql.SQL("{select} WHERE {where}").format(select=sql.SQL(SELECT), where=sql.SQL(" AND ").join(where))
    async with reader.connection() as conn:
        cur = await conn.execute(stmt, [course_id, student])
        row = await cur.fetchone()
    if row is None:  # or not the viewer's to see: the same answer, so nothing leaks
        raise EnrollmentNotFound("no such enrolment")
    return progress_of(row, detailed=True)


async def instructor_students(
    reader: Reader,
    viewer: Viewer,
    *,
    course_id: UUID | None = None,
    limit: int = 200,
    position: int | None = None,
) -> ProgressList:
    """Students of the organisation's courses the viewer teaches (`privacy.taught_by`)."""
    if not sees_students(viewer):
        raise Forbidden("students' progress is for instructors, trainers and managers")
    await reader.reach("progress", position)
    where: list[sql.Composable] = [sql.SQL("c.org_id = %s"), taught_by(viewer)]
    params: list[Any] = [viewer.org_id]
    if course_id is not None:
        where.append(sql.SQL("e.course_id = %s"))
        params.append(course_id)
    params.append(max(1, min(limit, 1000)))
    stmt = sql.SQL("{select} WHERE {where} ORDER BY e.last_activity DESC, e.student_id LIMIT %s").format(
        select=sql.SQL(SELECT), where=sql.SQL(" AND ").join(where)
    )
    async with reader.connection() as conn:
        at = await reader.checkpoint(conn, "progress")
        cur = await conn.execute(stmt, params)
        rows = await cur.fetchall()
    return ProgressList(items=[progress_of(r, detailed=False) for r in rows], position=at)
