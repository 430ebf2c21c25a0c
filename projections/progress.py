"""Learning progress: each enrolment's current round per module and lesson, quizzes, activity,
the trainers' feedback; the cohorts enrolments belong to and their trainers; learning paths.

Cohorts and paths live here, beside the enrolments, so that the privacy rule (who trains which
student) and a path's progress are answered from one read model at one checkpoint.
"""

from __future__ import annotations

from domain.cohort import Cohort
from domain.course import Course
from domain.enrollment import Enrollment
from domain.path import LearningPath
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
        ("cohort_id", "uuid"),  # the cohort the enrolment is in, kept across rounds
        ("feedback", "jsonb NOT NULL"),  # trainers' feedback of this round, in order
        ("archived", "boolean NOT NULL"),  # hidden from the student's list
        ("ever_completed", "boolean NOT NULL"),  # some round was completed (what prerequisites ask)
    ),
    key=("enrollment_id",),
    indexes=("(student_id, last_activity DESC)", "(course_id, last_activity DESC)", "(cohort_id)"),
)
COHORTS = Table(
    "cohorts",
    columns=(
        ("cohort_id", "uuid NOT NULL"),
        ("course_id", "uuid NOT NULL"),
        ("org_id", "uuid NOT NULL"),
        ("name", "text NOT NULL"),
        ("starts_on", "date NOT NULL"),
        ("trainers", "uuid[] NOT NULL"),
        ("created_at", "timestamptz NOT NULL"),
    ),
    key=("cohort_id",),
    indexes=("(org_id, starts_on DESC)", "(course_id)", "USING gin (trainers)"),
)
PATHS = Table(
    "paths",
    columns=(
        ("path_id", "uuid NOT NULL"),
        ("org_id", "uuid NOT NULL"),
        ("title", "text NOT NULL"),
        ("description", "text NOT NULL"),
        ("steps", "jsonb NOT NULL"),  # [{course_id, requires}] in order
        ("created_at", "timestamptz NOT NULL"),
        ("updated_at", "timestamptz NOT NULL"),
    ),
    key=("path_id",),
    indexes=("(org_id, title)",),
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
    version = 3  # 2: co-authors; 3: cohorts, trainers' feedback, archived enrolments, learning paths
    tables = (ENROLLMENTS, COURSES, COHORTS, PATHS)

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
        earlier = await self.get("enrollments", env.stream_id) if e.round > 1 else None
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
                "cohort_id": earlier["cohort_id"] if earlier else None,
                "feedback": [],
                "archived": False,
                "ever_completed": bool(earlier and earlier["ever_completed"]),
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
        row["ever_completed"] = True
        self.put("enrollments", row)

    @on(Enrollment.Dropped)
    async def dropped(self, e: Enrollment.Dropped, env: EventEnvelope) -> None:
        row = await self._enrollment(env)
        row["status"], row["dropped_at"], row["last_activity"] = "dropped", e.at, e.at
        self.put("enrollments", row)

    @on(Enrollment.JoinedCohort, Enrollment.LeftCohort)
    async def cohort_changed(self, e: Enrollment.JoinedCohort | Enrollment.LeftCohort, env: EventEnvelope) -> None:
        row = await self._enrollment(env)
        row["cohort_id"] = e.cohort_id if isinstance(e, Enrollment.JoinedCohort) else None
        self.put("enrollments", row)

    @on(Enrollment.FeedbackGiven)
    async def feedback_given(self, e: Enrollment.FeedbackGiven, env: EventEnvelope) -> None:
        row = await self._enrollment(env)
        row["feedback"].append(
            {
                "feedback_id": e.feedback_id,
                "trainer_id": e.trainer_id,
                "lesson_id": e.lesson_id,
                "assessment_id": e.assessment_id,
                "text": e.text,
                "at": e.at,
            }
        )
        self.put("enrollments", row)

    @on(Enrollment.Archived, Enrollment.Unarchived)
    async def archived(self, e: Enrollment.Archived | Enrollment.Unarchived, env: EventEnvelope) -> None:
        row = await self._enrollment(env)
        row["archived"] = isinstance(e, Enrollment.Archived)
        self.put("enrollments", row)

    # -- cohorts -----------------------------------------------------------------------------

    @on(Cohort.Created)
    async def cohort_created(self, e: Cohort.Created, env: EventEnvelope) -> None:
        self.put(
            "cohorts",
            {
                "cohort_id": env.stream_id,
                "course_id": e.course_id,
                "org_id": e.org_id,
                "name": e.name,
                "starts_on": e.starts_on,
                "trainers": [],
                "created_at": env.occurred_at,
            },
        )

    @on(Cohort.TrainerAssigned, Cohort.TrainerUnassigned)
    async def trainers_changed(self, e: Cohort.TrainerAssigned | Cohort.TrainerUnassigned, env: EventEnvelope) -> None:
        row = await self.require("cohorts", env.stream_id, "cohort {key} was never created")
        others = [t for t in row["trainers"] if t != e.trainer_id]
        row["trainers"] = [*others, e.trainer_id] if isinstance(e, Cohort.TrainerAssigned) else others
        self.put("cohorts", row)

    # -- learning paths ----------------------------------------------------------------------

    @on(LearningPath.Created, LearningPath.Revised)
    async def path_laid_out(self, e: LearningPath.Created | LearningPath.Revised, env: EventEnvelope) -> None:
        steps = [{"course_id": st.course_id, "requires": list(st.requires)} for st in e.steps]
        if isinstance(e, LearningPath.Created):
            row = {"path_id": env.stream_id, "org_id": e.org_id, "created_at": env.occurred_at}
        else:
            row = await self.require("paths", env.stream_id, "learning path {key} was never created")
        row.update(title=e.title, description=e.description, steps=steps, updated_at=env.occurred_at)
        self.put("paths", row)
