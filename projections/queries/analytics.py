"""Analytics of an organisation or one course, computed from the analytics facts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg import sql

from domain.errors import CourseNotFound, Forbidden
from projections.queries.privacy import writes
from projections.queries.reader import Reader, Viewer, reach
from schemas.access import Query, Reach
from schemas.readmodels import Analytics, AtRisk, Period, PeriodCount, PopularCourse, QuizBucket


@dataclass(frozen=True)
class AnalyticsQuery:
    period: Period = "week"
    since: date | None = None  # default: 90 days before `as_of`
    until: date | None = None  # default: `as_of`
    at_risk_days: int = 14  # no activity for this many days ...
    at_risk_below: float = 50.0  # ... and progress below this percentage
    top: int = 5
    as_of: datetime | None = None  # default: now


async def org_analytics(
    reader: Reader, viewer: Viewer, query: AnalyticsQuery, *, position: int | None = None
) -> Analytics:
    """The measures of the viewer's organisation (its courses and their learners)."""
    if reach(viewer, Query.ORG_ANALYTICS, viewer.org_id) is Reach.NONE:
        raise Forbidden("organisation analytics are for course managers and organisation admins")
    return await _analytics(reader, viewer.org_id, None, query, position)


async def course_analytics(
    reader: Reader,
    viewer: Viewer,
    course_id: UUID,
    query: AnalyticsQuery,
    *,
    position: int | None = None,
) -> Analytics:
    """The measures of one course (its learners among them): for its authors and managers."""
    stmt = sql.SQL(
        "SELECT c.org_id FROM rm_analytics.courses c WHERE c.course_id = %s AND c.status <> 'deleted' AND {}"
    )
    async with reader.connection() as conn:
        cur = await conn.execute(stmt.format(writes(viewer)), [course_id])
        found = await cur.fetchone()
    if found is None:  # missing, deleted, or not written by the viewer: the same answer
        raise CourseNotFound(f"course {course_id} not found")
    return await _analytics(reader, found[0], course_id, query, position)


async def _analytics(
    reader: Reader,
    org_id: UUID,
    course_id: UUID | None,
    q: AnalyticsQuery,
    position: int | None,
) -> Analytics:
    await reader.reach("analytics", position)
    as_of = q.as_of or datetime.now(UTC)
    until = q.until or as_of.date()
    since = q.since or until - timedelta(days=90)
    scope = "org_id = %(org)s" + (" AND course_id = %(course)s" if course_id else "")
    p: dict[str, Any] = {
        "org": org_id,
        "course": course_id,
        "since": since,
        "until": until,
        "period": q.period,
        "stale": as_of - timedelta(days=q.at_risk_days),
        "below": q.at_risk_below,
        "as_of": as_of,
        "top": max(1, min(q.top, 50)),
    }
    statements = {
        "counts": f"SELECT count(DISTINCT student_id), count(*),"
        f" count(*) FILTER (WHERE status = 'active'), count(*) FILTER (WHERE status = 'completed'),"
        f" count(*) FILTER (WHERE status = 'dropped'),"
        f" avg(extract(epoch FROM completed_at - enrolled_at)) FILTER (WHERE status = 'completed')"
        f" FROM rm_analytics.learners WHERE {scope}",
        "courses": f"SELECT count(DISTINCT author_id), count(*) FILTER (WHERE listed)"
        f" FROM rm_analytics.courses WHERE {scope}",
        "periods": "SELECT date_trunc(%(period)s, day)::date AS start, sum(enrolled),"
        f" sum(completed), sum(dropped) FROM rm_analytics.daily WHERE {scope}"
        " AND day BETWEEN %(since)s AND %(until)s GROUP BY 1 ORDER BY 1",
        "popular": f"SELECT c.course_id, c.title, count(l.*) FILTER (WHERE l.status IN"
        f" ('active', 'completed')) AS n FROM rm_analytics.courses c LEFT JOIN"
        f" rm_analytics.learners l USING (course_id) WHERE c.{scope.replace(' AND ', ' AND c.')}"
        f" AND c.listed GROUP BY c.course_id, c.title ORDER BY n DESC, c.course_id LIMIT %(top)s",
        "risk": f"SELECT student_id, course_id, progress, last_activity FROM rm_analytics.learners"
        f" WHERE {scope} AND status = 'active' AND last_activity < %(stale)s"
        f" AND progress < %(below)s ORDER BY last_activity, student_id LIMIT 500",
        "quiz": f"SELECT bucket, sum(attempts), sum(passed) FROM rm_analytics.quiz_scores"
        f" WHERE {scope} GROUP BY bucket ORDER BY bucket",
    }
    results: dict[str, list[tuple[Any, ...]]] = {}
    async with reader.connection() as conn:
        at = await reader.checkpoint(conn, "analytics")
        async with conn.pipeline():
            cursors = {name: await conn.execute(stmt, p) for name, stmt in statements.items()}
        for name, cur in cursors.items():
            results[name] = await cur.fetchall()
    students, learners, active, completed, dropped, seconds = results["counts"][0]
    instructors, published = results["courses"][0]
    return Analytics(
        org_id=str(org_id),
        course_id=str(course_id) if course_id else None,
        students=students,
        instructors=instructors,
        published_courses=published,
        learners=learners,
        active=active,
        completed=completed,
        dropped=dropped,
        completion_rate=round(completed / learners, 4) if learners else 0.0,
        drop_rate=round(dropped / learners, 4) if learners else 0.0,
        avg_days_to_complete=round(float(seconds) / 86400, 4) if seconds is not None else None,
        period=q.period,
        enrollments=[
            PeriodCount(start=r[0], enrolled=int(r[1]), completed=int(r[2]), dropped=int(r[3]))
            for r in results["periods"]
        ],
        popular_courses=[PopularCourse(course_id=str(r[0]), title=r[1], learners=r[2]) for r in results["popular"]],
        at_risk=[
            AtRisk(
                student_id=str(r[0]),
                course_id=str(r[1]),
                progress=r[2],
                last_activity=r[3],
                days_inactive=round((as_of - r[3]).total_seconds() / 86400, 2),
            )
            for r in results["risk"]
        ],
        quiz_scores=[QuizBucket(low=10 * r[0], attempts=int(r[1]), passed=int(r[2])) for r in results["quiz"]],
        position=at,
    )
