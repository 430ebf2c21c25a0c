"""Command payloads: decoded and validated by msgspec before any handler runs."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

Title = Annotated[str, Meta(min_length=1, max_length=200)]
Text = Annotated[str, Meta(max_length=20_000)]
LongText = Annotated[str, Meta(max_length=200_000)]
Tag = Annotated[str, Meta(min_length=1, max_length=40)]
Minutes = Annotated[int, Meta(ge=1, le=1440)]
Capacity = Annotated[int, Meta(ge=1, le=1_000_000)]
Index = Annotated[int, Meta(ge=0, le=10_000)]
Cefr = Literal["A1", "A2", "B1", "B2", "C1", "C2"]


class Command(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """Base of every command payload."""


# -- courses ---------------------------------------------------------------------------------


class CourseDetails(Command, kw_only=True, frozen=True):
    title: Title
    description: Text = ""
    cefr_level: Cefr
    category: Annotated[str, Meta(min_length=1, max_length=80)]
    tags: Annotated[list[Tag], Meta(max_length=30)] = []
    capacity: Capacity | None = None
    prerequisites: Annotated[list[UUID], Meta(max_length=50)] = []
    public: bool = False


class CreateCourse(CourseDetails, kw_only=True, frozen=True):
    course_id: UUID | None = None  # the client may choose the id (idempotent create)


class EditCourse(CourseDetails, kw_only=True, frozen=True):
    course_id: UUID


class DeleteCourse(Command, kw_only=True, frozen=True):
    course_id: UUID


class AddCoAuthor(Command, kw_only=True, frozen=True):
    """Let a colleague (an author of the organisation) change the course's drafts too."""

    course_id: UUID
    user_id: UUID


class RemoveCoAuthor(Command, kw_only=True, frozen=True):
    course_id: UUID
    user_id: UUID


class AddModule(Command, kw_only=True, frozen=True):
    course_id: UUID
    title: Title
    module_id: UUID | None = None
    index: Index | None = None


class RenameModule(Command, kw_only=True, frozen=True):
    course_id: UUID
    module_id: UUID
    title: Title


class ReorderModules(Command, kw_only=True, frozen=True):
    course_id: UUID
    module_ids: Annotated[list[UUID], Meta(max_length=500)]


class RemoveModule(Command, kw_only=True, frozen=True):
    course_id: UUID
    module_id: UUID


class AddLesson(Command, kw_only=True, frozen=True):
    course_id: UUID
    module_id: UUID
    title: Title
    duration_minutes: Minutes = 15
    lesson_id: UUID | None = None
    index: Index | None = None


class EditLesson(Command, kw_only=True, frozen=True):
    course_id: UUID
    lesson_id: UUID
    title: Title
    duration_minutes: Minutes


class ReorderLessons(Command, kw_only=True, frozen=True):
    course_id: UUID
    module_id: UUID
    lesson_ids: Annotated[list[UUID], Meta(max_length=500)]


class RemoveLesson(Command, kw_only=True, frozen=True):
    course_id: UUID
    lesson_id: UUID


class Material(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    kind: Literal["text", "video", "link", "file", "code"]
    title: Title
    body: LongText = ""
    url: Annotated[str, Meta(max_length=2000)] = ""


class Exercise(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    prompt: Text
    answer: Text
    hints: Annotated[list[Text], Meta(max_length=10)] = []


class Question(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    id: Annotated[str, Meta(min_length=1, max_length=64)]
    prompt: Text
    options: Annotated[list[Annotated[str, Meta(max_length=2000)]], Meta(min_length=2, max_length=20)]
    correct: Annotated[list[Annotated[int, Meta(ge=0, le=19)]], Meta(min_length=1, max_length=20)]
    points: Annotated[int, Meta(ge=1, le=100)] = 1


class Assessment(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    id: Annotated[str, Meta(min_length=1, max_length=64)]
    title: Title
    questions: Annotated[list[Question], Meta(min_length=1, max_length=200)]
    pass_mark: Annotated[float, Meta(gt=0, le=1)] = 0.7
    max_attempts: Annotated[int, Meta(ge=1, le=100)] | None = None


LabPath = Annotated[str, Meta(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.\-/]*$")]
Argv = Annotated[list[Annotated[str, Meta(min_length=1, max_length=1000)]], Meta(min_length=1, max_length=32)]


class LabFile(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    path: LabPath
    content: Annotated[str, Meta(max_length=256 * 1024)]


class LabLimits(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    run_seconds: Annotated[int, Meta(ge=1, le=300)] = 10
    memory_mb: Annotated[int, Meta(ge=32, le=4096)] = 256
    cpus: Annotated[float, Meta(ge=0.1, le=4)] = 1.0
    pids: Annotated[int, Meta(ge=8, le=1024)] = 64
    output_bytes: Annotated[int, Meta(ge=1024, le=4 * 1024 * 1024)] = 64 * 1024
    idle_minutes: Annotated[int, Meta(ge=1, le=1440)] = 15


class LabSpec(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A lesson's sandbox: runtime, starter files, run command, hidden grading tests, limits."""

    environment: Literal["python", "shell"]
    run_command: Argv
    grading_command: Argv
    starter_files: Annotated[list[LabFile], Meta(max_length=64)] = []
    grading_files: Annotated[list[LabFile], Meta(max_length=64)] = []
    limits: LabLimits = msgspec.field(default_factory=LabLimits)
    network: bool = False


class LessonContent(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    objectives: Annotated[list[Text], Meta(max_length=50)] = []
    materials: Annotated[list[Material], Meta(max_length=100)] = []
    exercises: Annotated[list[Exercise], Meta(max_length=100)] = []
    assessments: Annotated[list[Assessment], Meta(max_length=20)] = []
    lab: LabSpec | None = None


class SetLessonContent(Command, kw_only=True, frozen=True):
    course_id: UUID
    lesson_id: UUID
    content: LessonContent


class RestoreLessonContent(Command, kw_only=True, frozen=True):
    course_id: UUID
    lesson_id: UUID
    version: Annotated[int, Meta(ge=1)]


class SubmitCourse(Command, kw_only=True, frozen=True):
    course_id: UUID


class AssignReviewer(Command, kw_only=True, frozen=True):
    review_id: UUID
    reviewer_id: UUID


class CommentOnReview(Command, kw_only=True, frozen=True):
    review_id: UUID
    text: Annotated[str, Meta(min_length=1, max_length=10_000)]
    lesson_id: UUID | None = None


class ApproveCourse(Command, kw_only=True, frozen=True):
    review_id: UUID
    feedback: Text = ""


class RejectCourse(Command, kw_only=True, frozen=True):
    review_id: UUID
    feedback: Annotated[str, Meta(min_length=1, max_length=20_000)]
    # Lessons of a generated course to write again from the same sources, the feedback as an
    # extra instruction: the generation pipeline stores new content versions and submits again.
    regenerate: Annotated[list[UUID], Meta(max_length=200)] = []


class PublishCourse(Command, kw_only=True, frozen=True):
    course_id: UUID


class UnpublishCourse(Command, kw_only=True, frozen=True):
    """Take a published course out of the catalog; enrolled students keep their access."""

    course_id: UUID


class ArchiveCourse(Command, kw_only=True, frozen=True):
    course_id: UUID


class StartRevision(Command, kw_only=True, frozen=True):
    course_id: UUID
    kind: Literal["major", "minor"] = "minor"


# -- enrolments ------------------------------------------------------------------------------


class Enrol(Command, kw_only=True, frozen=True):
    course_id: UUID
    student_id: UUID | None = None  # default: the caller


class CompleteLesson(Command, kw_only=True, frozen=True):
    course_id: UUID
    lesson_id: UUID
    student_id: UUID | None = None


class SubmitQuiz(Command, kw_only=True, frozen=True):
    course_id: UUID
    lesson_id: UUID
    assessment_id: Annotated[str, Meta(min_length=1, max_length=64)]
    answers: dict[
        Annotated[str, Meta(max_length=64)],
        Annotated[list[Annotated[int, Meta(ge=0, le=19)]], Meta(max_length=20)],
    ]
    student_id: UUID | None = None


class DropEnrollment(Command, kw_only=True, frozen=True):
    course_id: UUID
    reason: Annotated[str, Meta(max_length=2000)] = ""
    student_id: UUID | None = None


class ArchiveEnrollment(Command, kw_only=True, frozen=True):
    """Hide a completed enrolment from the student's list of courses."""

    course_id: UUID
    student_id: UUID | None = None


class UnarchiveEnrollment(Command, kw_only=True, frozen=True):
    """Bring an archived enrolment back to the student's list of courses."""

    course_id: UUID
    student_id: UUID | None = None


# -- cohorts and trainers --------------------------------------------------------------------


class CreateCohort(Command, kw_only=True, frozen=True):
    """Open a cohort of a course: a group of enrolments that start together."""

    course_id: UUID
    name: Title
    starts_on: date
    cohort_id: UUID | None = None  # the client may choose the id (idempotent create)


class AddToCohort(Command, kw_only=True, frozen=True):
    """Put a student's enrolment in the cohort's course into the cohort."""

    cohort_id: UUID
    student_id: UUID


class RemoveFromCohort(Command, kw_only=True, frozen=True):
    """Take a student's enrolment out of the cohort."""

    cohort_id: UUID
    student_id: UUID


class AssignTrainer(Command, kw_only=True, frozen=True):
    """Make a trainer of the organisation one of the cohort's trainers."""

    cohort_id: UUID
    trainer_id: UUID


class UnassignTrainer(Command, kw_only=True, frozen=True):
    """Take a trainer off the cohort."""

    cohort_id: UUID
    trainer_id: UUID


class GiveFeedback(Command, kw_only=True, frozen=True):
    """A trainer's feedback on a student's lesson, or on one quiz of it."""

    course_id: UUID
    student_id: UUID
    lesson_id: UUID
    text: Annotated[str, Meta(min_length=1, max_length=10_000)]
    assessment_id: Annotated[str, Meta(min_length=1, max_length=64)] | None = None


# -- learning paths --------------------------------------------------------------------------


class PathStep(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    course_id: UUID
    # Courses of earlier steps to complete first; omitted: the step before (none for the first).
    requires: Annotated[list[UUID], Meta(max_length=50)] | None = None


class CreateLearningPath(Command, kw_only=True, frozen=True):
    """An ordered set of courses with prerequisites between them."""

    title: Title
    description: Text = ""
    steps: Annotated[list[PathStep], Meta(min_length=1, max_length=50)]
    path_id: UUID | None = None  # the client may choose the id (idempotent create)


class ReviseLearningPath(Command, kw_only=True, frozen=True):
    """Change a learning path's title, description, courses or prerequisites."""

    path_id: UUID
    title: Title
    description: Text = ""
    steps: Annotated[list[PathStep], Meta(min_length=1, max_length=50)]


# -- the log's seals (sent by the sealer, never over HTTP) ----------------------------------


class SealLog(Command, kw_only=True, frozen=True):
    """Record the next signed seal of the log (see infra.eventlog.seals for what is signed)."""

    sequence: int
    first_position: int
    last_position: int
    root: str
    previous: str
    heads: list[tuple[str, int, int, str]]  # (stream id, version, position, hash) per stream in range
    public_key: str
    signature: str
    digest: str
