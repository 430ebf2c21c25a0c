"""Analytics facts per organisation and course: learners, daily counts, quiz score buckets.

Enrolments count for the organisation that owns the course. Measures over periods (per day,
week, month), rates, durations and learners at risk are computed from these facts at query time.
"""

from __future__ import annotations

from datetime import datetime

from domain.course import Course
from domain.enrollment import Enrollment
from infra.eventlog import EventEnvelope
from projections.model import Projection, Row, Table, on

COURSES = Table(
    "courses",
    columns=(
        ("course_id", "uuid NOT NULL"),
        ("org_id", "uuid NOT NULL"),
        ("author_id", "uuid NOT NULL"),
        ("co_authors", "uuid[] NOT NULL"),
        ("title", "text NOT NULL"),
        ("status", "text NOT NULL"),
        ("unlisted", "boolean NOT NULL"),  # unpublished: out of the catalog until relisted
        ("listed", "boolean NOT NULL"),  # in the catalog: published, not unpublished, archived or deleted
        ("published_at", "timestamptz"),
    ),
    key=("course_id",),
    indexes=("(org_id)",),
)
LEARNERS = Table(
    "learners",
    columns=(
        ("enrollment_id", "uuid NOT NULL"),
        ("org_id", "uuid NOT NULL"),  # the course's organisation
        ("course_id", "uuid NOT NULL"),
        ("student_id", "uuid NOT NULL"),
        ("status", "text NOT NULL"),
        ("enrolled_at", "timestamptz NOT NULL"),
        ("completed_at", "timestamptz"),
        ("dropped_at", "timestamptz"),
        ("last_activity", "timestamptz NOT NULL"),
        ("lessons_total", "integer NOT NULL"),
        ("lessons_done", "integer NOT NULL"),
        ("progress", "double precision NOT NULL"),
    ),
    key=("enrollment_id",),
    indexes=("(org_id, status, last_activity)", "(course_id, status, last_activity)"),
)
DAILY = Table(
    "daily",
    columns=(
        ("org_id", "uuid NOT NULL"),
        ("course_id", "uuid NOT NULL"),
        ("day", "date NOT NULL"),
        ("enrolled", "integer NOT NULL"),
        ("completed", "integer NOT NULL"),
        ("dropped", "integer NOT NULL"),
    ),
    key=("course_id", "day"),
    indexes=("(org_id, day)",),
)
QUIZ = Table(
    "quiz_scores",
    columns=(
        ("org_id", "uuid NOT NULL"),
        ("course_id", "uuid NOT NULL"),
        ("bucket", "integer NOT NULL"),  # score as tenths of the maximum, 0..10
        ("attempts", "integer NOT NULL"),
        ("passed", "integer NOT NULL"),
    ),
    key=("course_id", "bucket"),
    indexes=("(org_id)",),
)


class AnalyticsProjection(Projection):
    name = "analytics"
    version = 3  # 2: co-authors; 3: an unpublished course is not listed
    tables = (COURSES, LEARNERS, DAILY, QUIZ)

    async def _course(self, env: EventEnvelope) -> Row:
        return await self.require("courses", env.stream_id, "course {key} was never created")

    async def _set(self, env: EventEnvelope, **values: object) -> None:
        row = await self._course(env)
        row.update(values)
        row["listed"] = (
            row["published_at"] is not None and not row["unlisted"] and row["status"] not in ("archived", "deleted")
        )
        self.put("courses", row)
        self.touch(f"analytics:{row['org_id']}")

    @on(Course.Created)
    async def course_created(self, e: Course.Created, env: EventEnvelope) -> None:
        self.put(
            "courses",
            {
                "course_id": env.stream_id,
                "org_id": e.org_id,
                "author_id": e.author_id,
                "co_authors": [],
                "title": e.details.title,
                "status": "draft",
                "unlisted": False,
                "listed": False,
                "published_at": None,
            },
        )

    @on(Course.CoAuthorAdded)
    async def co_author_added(self, e: Course.CoAuthorAdded, env: EventEnvelope) -> None:
        row = await self._course(env)
        await self._set(env, co_authors=[*row["co_authors"], e.user_id])

    @on(Course.CoAuthorRemoved)
    async def co_author_removed(self, e: Course.CoAuthorRemoved, env: EventEnvelope) -> None:
        row = await self._course(env)
        await self._set(env, co_authors=[a for a in row["co_authors"] if a != e.user_id])

    @on(Course.DetailsEdited)
    async def course_edited(self, e: Course.DetailsEdited, env: EventEnvelope) -> None:
        await self._set(env, title=e.details.title)

    @on(Course.Published)
    async def published(self, e: Course.Published, env: EventEnvelope) -> None:
        row = await self._course(env)
        await self._set(env, status="published", unlisted=False, published_at=row["published_at"] or env.occurred_at)

    @on(Course.Unpublished, Course.Republished)
    async def unpublished(self, e: Course.Unpublished | Course.Republished, env: EventEnvelope) -> None:
        await self._set(env, unlisted=isinstance(e, Course.Unpublished))

    @on(Course.Archived)
    async def archived(self, e: Course.Archived, env: EventEnvelope) -> None:
        await self._set(env, status="archived")

    @on(Course.Deleted)
    async def deleted(self, e: Course.Deleted, env: EventEnvelope) -> None:
        await self._set(env, status="deleted")

    @on(Course.RevisionStarted)
    async def revision_started(self, e: Course.RevisionStarted, env: EventEnvelope) -> None:
        await self._set(env, status="draft")

    async def _count(self, learner: Row, at: datetime, column: str) -> None:
        key = (learner["course_id"], at.date())
        day = await self.get("daily", key)
        if day is None:
            day = {
                "org_id": learner["org_id"],
                "course_id": learner["course_id"],
                "day": at.date(),
                "enrolled": 0,
                "completed": 0,
                "dropped": 0,
            }
        day[column] += 1
        self.put("daily", day)

    async def _learner(self, env: EventEnvelope) -> Row:
        return await self.require("learners", env.stream_id, "enrolment {key} was never started")

    @on(Enrollment.Enrolled)
    async def enrolled(self, e: Enrollment.Enrolled, env: EventEnvelope) -> None:
        course = await self.get("courses", e.course_id)
        row = {
            "enrollment_id": env.stream_id,
            "org_id": course["org_id"] if course else e.org_id,
            "course_id": e.course_id,
            "student_id": e.student_id,
            "status": "active",
            "enrolled_at": e.at,
            "completed_at": None,
            "dropped_at": None,
            "last_activity": e.at,
            "lessons_total": sum(len(m.lesson_ids) for m in e.outline),
            "lessons_done": 0,
            "progress": 0.0,
        }
        self.put("learners", row)
        await self._count(row, e.at, "enrolled")
        self.touch(f"analytics:{row['org_id']}")

    @on(Enrollment.LessonCompleted)
    async def lesson_completed(self, e: Enrollment.LessonCompleted, env: EventEnvelope) -> None:
        row = await self._learner(env)
        row["lessons_done"] += 1
        total = row["lessons_total"]
        row["progress"] = round(100.0 * row["lessons_done"] / total, 4) if total else 0.0
        row["last_activity"] = e.at
        self.put("learners", row)

    @on(Enrollment.QuizSubmitted)
    async def quiz_submitted(self, e: Enrollment.QuizSubmitted, env: EventEnvelope) -> None:
        row = await self._learner(env)
        row["last_activity"] = e.at
        self.put("learners", row)
        bucket = min(10, max(0, (10 * e.score) // e.max_score)) if e.max_score else 0
        key = (row["course_id"], bucket)
        quiz = await self.get("quiz_scores", key)
        if quiz is None:
            quiz = {
                "org_id": row["org_id"],
                "course_id": row["course_id"],
                "bucket": bucket,
                "attempts": 0,
                "passed": 0,
            }
        quiz["attempts"] += 1
        quiz["passed"] += int(e.passed)
        self.put("quiz_scores", quiz)

    @on(Enrollment.Completed)
    async def completed(self, e: Enrollment.Completed, env: EventEnvelope) -> None:
        row = await self._learner(env)
        row["status"], row["completed_at"], row["last_activity"] = "completed", e.at, e.at
        self.put("learners", row)
        await self._count(row, e.at, "completed")
        self.touch(f"analytics:{row['org_id']}")

    @on(Enrollment.Dropped)
    async def dropped(self, e: Enrollment.Dropped, env: EventEnvelope) -> None:
        row = await self._learner(env)
        row["status"], row["dropped_at"], row["last_activity"] = "dropped", e.at, e.at
        self.put("learners", row)
        await self._count(row, e.at, "dropped")
        self.touch(f"analytics:{row['org_id']}")
