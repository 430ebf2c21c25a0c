"""Learning progress: each enrolment's current round per module and lesson, quizzes, activity."""

from __future__ import annotations

from domain.course import Course
from domain.enrollment import Enrollment
from infra.eventlog import EventEnvelope
from projections.model import Projection, Row, Table, on

ENROLLMENTS = Table(
    "enrollments",
    columns=(
        ("enrollment_id", "uuid NOT NULL"),
        ("course_id", "uuid NOT NULL"),
        ("student_id", "uuid NOT NULL"),
        ("org_id", "uuid NOT NULL"),  # the student's organisation
        ("status", "text NOT NULL"),  # active | completed | dropped
        ("round", "integer NOT NULL"),
        ("revision", "text NOT NULL"),
        ("enrolled_at", "timestamptz NOT NULL"),
        ("completed_at", "timestamptz"),
        ("dropped_at", "timestamptz"),
        ("last_activity", "timestamptz NOT NULL"),
        ("lessons_total", "integer NOT NULL"),
        ("lessons_done", "integer NOT NULL"),
        ("progress", "double precision NOT NULL"),
        ("outline", "jsonb NOT NULL"),  # [{module_id, lesson_ids}]
        ("done", "jsonb NOT NULL"),  # {lesson_id: completed at}
        ("modules_done", "jsonb NOT NULL"),  # {module_id: completed at}
        ("quizzes", "jsonb NOT NULL"),  # attempts of this round, in order
    ),
    key=("enrollment_id",),
    indexes=("(student_id, last_activity DESC)", "(course_id, last_activity DESC)"),
)
COURSES = Table(
    "courses",
    columns=(
        ("course_id", "uuid NOT NULL"),
        ("org_id", "uuid NOT NULL"),
        ("author_id", "uuid NOT NULL"),
        ("co_authors", "uuid[] NOT NULL"),
        ("title", "text NOT NULL"),
        ("names", "jsonb NOT NULL"),  # {module or lesson id: title}: names outlive removals
    ),
    key=("course_id",),
    indexes=("(author_id)", "(org_id)", "USING gin (co_authors)"),
)


class ProgressProjection(Projection):
    name = "progress"
    version = 2  # 2: co-authors
    tables = (ENROLLMENTS, COURSES)

    async def _course(self, env: EventEnvelope) -> Row:
        return await self.require("courses", env.stream_id, "course {key} was never created")

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
                "names": {},
            },
        )

    @on(Course.CoAuthorAdded)
    async def co_author_added(self, e: Course.CoAuthorAdded, env: EventEnvelope) -> None:
        row = await self._course(env)
        row["co_authors"] = [*row["co_authors"], e.user_id]
        self.put("courses", row)

    @on(Course.CoAuthorRemoved)
    async def co_author_removed(self, e: Course.CoAuthorRemoved, env: EventEnvelope) -> None:
        row = await self._course(env)
        row["co_authors"] = [a for a in row["co_authors"] if a != e.user_id]
        self.put("courses", row)

    @on(Course.DetailsEdited)
    async def course_edited(self, e: Course.DetailsEdited, env: EventEnvelope) -> None:
        row = await self._course(env)
        row["title"] = e.details.title
        self.put("courses", row)

    @on(Course.ModuleAdded, Course.ModuleRenamed)
    async def module_named(self, e: Course.ModuleAdded | Course.ModuleRenamed, env: EventEnvelope) -> None:
        row = await self._course(env)
        row["names"][str(e.module_id)] = e.title
        self.put("courses", row)

    @on(Course.LessonAdded, Course.LessonEdited)
    async def lesson_named(self, e: Course.LessonAdded | Course.LessonEdited, env: EventEnvelope) -> None:
        row = await self._course(env)
        row["names"][str(e.lesson_id)] = e.title
        self.put("courses", row)

    async def _enrollment(self, env: EventEnvelope) -> Row:
        return await self.require("enrollments", env.stream_id, "enrolment {key} was never started")

    @on(Enrollment.Enrolled)
    async def enrolled(self, e: Enrollment.Enrolled, env: EventEnvelope) -> None:
        # UUIDs and datetimes stay objects here; the JSON encoder writes them as strings.
        outline = [{"module_id": m.module_id, "lesson_ids": m.lesson_ids} for m in e.outline]
        self.put(
            "enrollments",
            {
                "enrollment_id": env.stream_id,
                "course_id": e.course_id,
                "student_id": e.student_id,
                "org_id": e.org_id,
                "status": "active",
                "round": e.round,
                "revision": e.revision,
                "enrolled_at": e.at,
                "completed_at": None,
                "dropped_at": None,
                "last_activity": e.at,
                "lessons_total": sum(len(m.lesson_ids) for m in e.outline),
                "lessons_done": 0,
                "progress": 0.0,
                "outline": outline,
                "done": {},
                "modules_done": {},
                "quizzes": [],
            },
        )
        self.touch(f"progress:{e.student_id}")

    @on(Enrollment.LessonCompleted)
    async def lesson_completed(self, e: Enrollment.LessonCompleted, env: EventEnvelope) -> None:
        row = await self._enrollment(env)
        row["done"][e.lesson_id] = e.at
        row["lessons_done"] = len(row["done"])
        total = row["lessons_total"]
        row["progress"] = round(100.0 * row["lessons_done"] / total, 4) if total else 0.0
        row["last_activity"] = e.at
        self.put("enrollments", row)

    @on(Enrollment.ModuleCompleted)
    async def module_completed(self, e: Enrollment.ModuleCompleted, env: EventEnvelope) -> None:
        row = await self._enrollment(env)
        row["modules_done"][e.module_id] = e.at
        self.put("enrollments", row)

    @on(Enrollment.QuizSubmitted)
    async def quiz_submitted(self, e: Enrollment.QuizSubmitted, env: EventEnvelope) -> None:
        row = await self._enrollment(env)
        row["quizzes"].append(
            {
                "lesson_id": e.lesson_id,
                "assessment_id": e.assessment_id,
                "attempt": e.attempt,
                "score": e.score,
                "max_score": e.max_score,
                "passed": e.passed,
                "at": e.at,
            }
        )
        row["last_activity"] = e.at
        self.put("enrollments", row)

    @on(Enrollment.Completed)
    async def completed(self, e: Enrollment.Completed, env: EventEnvelope) -> None:
        row = await self._enrollment(env)
        row["status"], row["completed_at"], row["last_activity"] = "completed", e.at, e.at
        self.put("enrollments", row)

    @on(Enrollment.Dropped)
    async def dropped(self, e: Enrollment.Dropped, env: EventEnvelope) -> None:
        row = await self._enrollment(env)
        row["status"], row["dropped_at"], row["last_activity"] = "dropped", e.at, e.at
        self.put("enrollments", row)
