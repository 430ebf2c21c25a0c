"""A student's enrolment in a course: one stream per (course, student), every round kept."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

from domain import errors
from domain.aggregate import Aggregate, Event
from domain.content import Assessment, score
from domain.ids import name_id

_NS = UUID("0c7e4f6a-9b1d-4a55-8c3e-5d2f1a7b9e01")
Status = Literal["none", "active", "completed", "dropped"]


def enrollment_id(course_id: UUID, student_id: UUID) -> UUID:
    """Deterministic: the same student and course always meet on the same stream."""
    return name_id(_NS, f"enrollment:{course_id}:{student_id}")


@dataclass(frozen=True)
class ModuleOutline:
    module_id: UUID
    lesson_ids: tuple[UUID, ...]


@dataclass(frozen=True)
class Feedback:
    feedback_id: UUID
    trainer_id: UUID
    lesson_id: UUID
    assessment_id: str | None
    text: str
    at: datetime


@dataclass(frozen=True)
class Completion:
    """One completion of the course: the round it ended, the revision learned, when."""

    round: int
    revision: str
    at: datetime


@dataclass(frozen=True)
class QuizAttempt:
    lesson_id: UUID
    assessment_id: str
    attempt: int
    score: int
    max_score: int
    passed: bool
    at: datetime


class Enrollment(Aggregate):
    @dataclass(frozen=True)
    class Enrolled(Event):
        course_id: UUID
        student_id: UUID
        org_id: UUID
        revision: str
        outline: tuple[ModuleOutline, ...]
        round: int
        at: datetime

    @dataclass(frozen=True)
    class LessonCompleted(Event):
        lesson_id: UUID
        module_id: UUID
        at: datetime

    @dataclass(frozen=True)
    class ModuleCompleted(Event):
        module_id: UUID
        at: datetime

    @dataclass(frozen=True)
    class QuizSubmitted(Event):
        lesson_id: UUID
        assessment_id: str
        attempt: int
        answers: dict[str, tuple[int, ...]]
        score: int
        max_score: int
        passed: bool
        at: datetime

    @dataclass(frozen=True)
    class Completed(Event):
        at: datetime

    @dataclass(frozen=True)
    class Dropped(Event):
        reason: str
        at: datetime

    @dataclass(frozen=True)
    class JoinedCohort(Event):
        cohort_id: UUID

    @dataclass(frozen=True)
    class LeftCohort(Event):
        cohort_id: UUID

    @dataclass(frozen=True)
    class FeedbackGiven(Event):
        """A trainer's feedback on one lesson (or one quiz of it) of the student's current round."""

        feedback_id: UUID
        trainer_id: UUID
        lesson_id: UUID
        assessment_id: str | None
        text: str
        at: datetime

    @dataclass(frozen=True)
    class Archived(Event):
        """The student hid the completed enrolment from their list (nothing else changes)."""

        at: datetime

    @dataclass(frozen=True)
    class Unarchived(Event):
        at: datetime

    def _init_state(self) -> None:
        self.course_id: UUID | None = None
        self.student_id: UUID | None = None
        self.org_id: UUID | None = None
        self.status: Status = "none"
        self.round = 0
        self.revision = ""
        self.outline: tuple[ModuleOutline, ...] = ()
        self.completed_lessons: set[UUID] = set()
        self.completed_modules: set[UUID] = set()
        self.quiz_attempts: list[QuizAttempt] = []
        self.ever_completed = False
        self.completions: dict[int, Completion] = {}  # by the stream version of its Completed event
        self.enrolled_at: datetime | None = None
        self.last_activity: datetime | None = None
        self.cohort_id: UUID | None = None  # kept across rounds
        self.feedback: list[Feedback] = []  # of the current round
        self.archived = False

    # -- queries -----------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        return self.status in ("active", "completed")

    @property
    def lesson_count(self) -> int:
        return sum(len(m.lesson_ids) for m in self.outline)

    @property
    def progress(self) -> float:
        """Percentage of the outline's lessons completed in the current round, 0 to 100."""
        total = self.lesson_count
        return 100.0 * len(self.completed_lessons) / total if total else 0.0

    def attempts(self, assessment_id: str, lesson_id: UUID | None = None) -> list[QuizAttempt]:
        """Attempts at a quiz; give the lesson too, as quiz ids are unique per lesson only."""
        return [a for a in self.quiz_attempts if a.assessment_id == assessment_id and lesson_id in (None, a.lesson_id)]

    def _module_of(self, lesson_id: UUID) -> ModuleOutline:
        for m in self.outline:
            if lesson_id in m.lesson_ids:
                return m
        raise errors.LessonNotFound(f"lesson {lesson_id} is not part of this enrolment")

    def _require_active(self) -> None:
        if self.status != "active":
            raise errors.NotEnrolled(f"enrolment is {self.status}")

    # -- decisions ---------------------------------------------------------------------------

    def enrol(
        self,
        course_id: UUID,
        student_id: UUID,
        org_id: UUID,
        revision: str,
        outline: tuple[ModuleOutline, ...],
        at: datetime,
    ) -> None:
        if self.status == "active":
            raise errors.AlreadyEnrolled("the student is already enrolled in this course")
        if self.status == "completed":
            raise errors.AlreadyEnrolled("the student completed this course; drop it to retake")
        self._record(self.Enrolled(course_id, student_id, org_id, revision, outline, self.round + 1, at))

    def complete_lesson(self, lesson_id: UUID, at: datetime) -> bool:
        """Mark a lesson done; False (no event) when it already was: the call is idempotent."""
        if self.status == "completed" and lesson_id in self.completed_lessons:
            return False
        self._require_active()
        module = self._module_of(lesson_id)
        if lesson_id in self.completed_lessons:
            return False
        self._record(self.LessonCompleted(lesson_id, module.module_id, at))
        if all(lid in self.completed_lessons for lid in module.lesson_ids):
            self._record(self.ModuleCompleted(module.module_id, at))
        if len(self.completed_lessons) == self.lesson_count:
            self._record(self.Completed(at))
        return True

    def submit_quiz(
        self,
        lesson_id: UUID,
        assessment: Assessment,
        answers: dict[str, tuple[int, ...]],
        at: datetime,
    ) -> QuizAttempt:
        self._require_active()
        self._module_of(lesson_id)
        previous = self.attempts(assessment.id, lesson_id)
        if assessment.max_attempts is not None and len(previous) >= assessment.max_attempts:
            raise errors.RuleViolation(f"no attempts left: {assessment.max_attempts} allowed")
        result = score(assessment, answers)
        attempt = len(previous) + 1
        self._record(
            self.QuizSubmitted(
                lesson_id, assessment.id, attempt, answers, result.score, result.max_score, result.passed, at
            )
        )
        if result.passed:
            self.complete_lesson(lesson_id, at)
        return self.quiz_attempts[-1]

    def drop(self, reason: str, at: datetime) -> None:
        if self.status not in ("active", "completed"):
            raise errors.NotEnrolled(f"enrolment is {self.status}")
        self._record(self.Dropped(reason, at))

    def join_cohort(self, cohort_id: UUID) -> None:
        """Put the enrolment in a cohort (nothing changes if it is in that one already)."""
        if not self.exists:
            raise errors.EnrollmentNotFound("not enrolled in this course")
        if self.cohort_id == cohort_id:
            return
        if self.cohort_id is not None:
            raise errors.AlreadyInCohort(f"the enrolment is in cohort {self.cohort_id}; remove it from there first")
        self._record(self.JoinedCohort(cohort_id))

    def leave_cohort(self, cohort_id: UUID) -> None:
        if self.cohort_id != cohort_id:
            raise errors.NotInCohort(f"the enrolment is not in cohort {cohort_id}")
        self._record(self.LeftCohort(cohort_id))

    def give_feedback(
        self,
        feedback_id: UUID,
        trainer_id: UUID,
        lesson_id: UUID,
        assessment_id: str | None,
        text: str,
        at: datetime,
    ) -> None:
        if self.status == "none":
            raise errors.EnrollmentNotFound("not enrolled in this course")
        self._module_of(lesson_id)
        if not text.strip():
            raise errors.InvalidFeedback("feedback needs a text")
        self._record(self.FeedbackGiven(feedback_id, trainer_id, lesson_id, assessment_id, text.strip(), at))

    def archive(self, at: datetime) -> None:
        """Hide a completed enrolment from the student's list (idempotent)."""
        if self.status != "completed":
            raise errors.EnrollmentNotArchivable(f"only a completed enrolment is archived; this one is {self.status}")
        if not self.archived:
            self._record(self.Archived(at))

    def unarchive(self, at: datetime) -> None:
        if self.status == "none":
            raise errors.EnrollmentNotFound("not enrolled in this course")
        if self.archived:
            self._record(self.Unarchived(at))

    # -- state changes -----------------------------------------------------------------------

    def _on_Enrolled(self, e: Enrolled) -> None:
        self.course_id, self.student_id, self.org_id = e.course_id, e.student_id, e.org_id
        self.status, self.round, self.revision, self.outline = "active", e.round, e.revision, e.outline
        self.completed_lessons, self.completed_modules, self.quiz_attempts = set(), set(), []
        self.enrolled_at = self.last_activity = e.at
        self.feedback, self.archived = [], False

    def _on_LessonCompleted(self, e: LessonCompleted) -> None:
        self.completed_lessons.add(e.lesson_id)
        self.last_activity = e.at

    def _on_ModuleCompleted(self, e: ModuleCompleted) -> None:
        self.completed_modules.add(e.module_id)

    def _on_QuizSubmitted(self, e: QuizSubmitted) -> None:
        self.quiz_attempts.append(
            QuizAttempt(e.lesson_id, e.assessment_id, e.attempt, e.score, e.max_score, e.passed, e.at)
        )
        self.last_activity = e.at

    def _on_Completed(self, e: Completed) -> None:
        self.status, self.ever_completed, self.last_activity = "completed", True, e.at
        # Applied before the version moves on: this event's own version is the next one.
        self.completions[self.version + 1] = Completion(self.round, self.revision, e.at)

    def _on_Dropped(self, e: Dropped) -> None:
        self.status, self.last_activity = "dropped", e.at

    def _on_JoinedCohort(self, e: JoinedCohort) -> None:
        self.cohort_id = e.cohort_id

    def _on_LeftCohort(self, e: LeftCohort) -> None:
        self.cohort_id = None

    def _on_FeedbackGiven(self, e: FeedbackGiven) -> None:
        self.feedback.append(Feedback(e.feedback_id, e.trainer_id, e.lesson_id, e.assessment_id, e.text, e.at))

    def _on_Archived(self, e: Archived) -> None:
        self.archived = True

    def _on_Unarchived(self, e: Unarchived) -> None:
        self.archived = False
