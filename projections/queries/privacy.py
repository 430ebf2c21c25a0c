"""Whose progress and identity a viewer sees: one rule for every query that shows a student.

An instructor or trainer sees the progress only of the students in courses they author or
co-author, or in cohorts they train; course managers and organisation admins see all of their
organisation's; platform admins everyone's (who reaches how far is
`schemas.access.QUERIES[Query.STUDENT_PROGRESS]`). A student sees their own progress through the
queries of their own courses. The queries that show students (a course's student list, one
student's progress, quiz attempts and feedback, a cohort's students, a student's path progress)
all filter their enrolments through `taught_by`, and the HTTP and NATS edges both call those
queries, so the rule holds on every path; a student's profile asks `teaches`. A course's
analytics (`writes`) are for those who write the course and the organisation's managers.
"""

from __future__ import annotations

from uuid import UUID

from psycopg import sql

from projections.queries.reader import Reader, Viewer
from schemas.access import QUERIES, Query, Reach


def _authored(table: sql.Identifier, me: sql.Literal) -> sql.Composable:
    return sql.SQL("({t}.author_id = {me} OR {me} = ANY({t}.co_authors))").format(t=table, me=me)


def taught_by(viewer: Viewer, courses: str = "c", enrollments: str = "e") -> sql.Composable:
    """The SQL condition on an enrolment (`rm_progress.enrollments`, named `enrollments`) and its
    course (`org_id`, `author_id`, `co_authors`, named `courses`): the enrolments whose student
    the viewer sees."""
    table, me, org = sql.Identifier(courses), sql.Literal(viewer.user_id), sql.Literal(viewer.org_id)
    match QUERIES[Query.STUDENT_PROGRESS].reach(viewer.roles):
        case Reach.PLATFORM:
            return sql.SQL("TRUE")
        case Reach.ORGANISATION:
            return sql.SQL("{t}.org_id = {org}").format(t=table, org=org)
        case Reach.OWN:
            trained = sql.SQL(
                "{e}.cohort_id IN (SELECT t.cohort_id FROM rm_progress.cohorts t WHERE {me} = ANY(t.trainers))"
            ).format(e=sql.Identifier(enrollments), me=me)
            return sql.SQL("({t}.org_id = {org} AND ({authored} OR {trained}))").format(
                t=table, org=org, authored=_authored(table, me), trained=trained
            )
        case _:
            return sql.SQL("FALSE")


def writes(viewer: Viewer, courses: str = "c") -> sql.Composable:
    """The SQL condition on a courses table: the courses whose measures the viewer sees (its
    authors, and the managers of its organisation)."""
    table, me, org = sql.Identifier(courses), sql.Literal(viewer.user_id), sql.Literal(viewer.org_id)
    match QUERIES[Query.STUDENT_PROGRESS].reach(viewer.roles):
        case Reach.PLATFORM:
            return sql.SQL("TRUE")
        case Reach.ORGANISATION:
            return sql.SQL("{t}.org_id = {org}").format(t=table, org=org)
        case Reach.OWN:
            return sql.SQL("({t}.org_id = {org} AND {authored})").format(
                t=table, org=org, authored=_authored(table, me)
            )
        case _:
            return sql.SQL("FALSE")


def sees_students(viewer: Viewer) -> bool:
    """Whether the viewer may see any student but themself."""
    return QUERIES[Query.STUDENT_PROGRESS].reach(viewer.roles) is not Reach.NONE


async def teaches(reader: Reader, viewer: Viewer, student_id: UUID) -> bool:
    """Whether the viewer sees this student of their organisation: they reach every student
    of it, or the student is enrolled in a course they write or a cohort they train."""
    match QUERIES[Query.STUDENT_PROGRESS].reach(viewer.roles):
        case Reach.PLATFORM | Reach.ORGANISATION:
            return True
        case Reach.NONE:
            return False
    stmt = sql.SQL(
        "SELECT EXISTS (SELECT 1 FROM rm_progress.enrollments e JOIN rm_progress.courses c USING (course_id)"
        " WHERE e.student_id = %s AND {})"
    ).format(taught_by(viewer))
    async with reader.connection() as conn:
        cur = await conn.execute(stmt, [student_id])
        row = await cur.fetchone()
    return bool(row and row[0])
