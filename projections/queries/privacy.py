"""Whose progress and identity a viewer sees: one rule for every query that shows a student.

Instructors see the students of the courses they author or co-author; trainers, course
managers and organisation admins those of every course of their organisation; platform admins
everyone's (who reaches how far is `schemas.access.QUERIES[Query.STUDENT_PROGRESS]`). A
student sees their own progress through the queries of their own courses. The queries that
show students (a course's student list, one student's progress and quiz attempts, a course's
analytics) all filter their courses through `taught_by`, and the HTTP and NATS edges both
call those queries, so the rule holds on every path; a student's profile asks `teaches`.
"""

from __future__ import annotations

from uuid import UUID

from psycopg import sql

from projections.queries.reader import Reader, Viewer
from schemas.access import QUERIES, Query, Reach


def taught_by(viewer: Viewer, courses: str = "c") -> sql.Composable:
    """The SQL condition on a courses table (`org_id`, `author_id`, `co_authors`), named
    `courses` in the statement: the courses whose students the viewer sees."""
    table = sql.Identifier(courses)
    me, org = sql.Literal(viewer.user_id), sql.Literal(viewer.org_id)
    match QUERIES[Query.STUDENT_PROGRESS].reach(viewer.roles):
        case Reach.PLATFORM:
            return sql.SQL("TRUE")
        case Reach.ORGANISATION:
            return sql.SQL("{t}.org_id = {org}").format(t=table, org=org)
        case Reach.OWN:
            return sql.SQL("({t}.org_id = {org} AND ({t}.author_id = {me} OR {me} = ANY({t}.co_authors)))").format(
                t=table, org=org, me=me
            )
        case _:
            return sql.SQL("FALSE")


def sees_students(viewer: Viewer) -> bool:
    """Whether the viewer may see any student but themself."""
    return QUERIES[Query.STUDENT_PROGRESS].reach(viewer.roles) is not Reach.NONE


async def teaches(reader: Reader, viewer: Viewer, student_id: UUID) -> bool:
    """Whether the viewer sees this student of their organisation: they reach every student
    of it, or the student is enrolled in a course they write."""
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
