"""Handlers of the cohort commands: open a cohort, put enrolments in it, name its trainers, and
the trainers' feedback to its students."""

from __future__ import annotations

from uuid import UUID

from commands.bus import Decided
from commands.errors import InvalidTrainer
from commands.session import Session
from domain import errors
from domain.cohort import Cohort
from domain.course import Course
from domain.enrollment import Enrollment, enrollment_id
from domain.identity import User, UserNotFound
from schemas import commands as c
from schemas.access import Reach
from schemas.roles import MemberRole

TRAINER: MemberRole = "trainer"


def _cohort(cohort: Cohort, **data: object) -> Decided:
    return Decided(cohort, "cohort", {"course_id": str(cohort.course_id), **data})


async def create_cohort(cmd: c.CreateCohort, s: Session) -> Decided:
    cohort = await s.load(Cohort, cmd.cohort_id) if cmd.cohort_id else s.track(Cohort.blank(s.ports.ids.new_id()))
    if cohort.exists:
        raise errors.CohortAlreadyExists(f"cohort {cohort.id} exists")
    course = await s.view(Course, cmd.course_id)
    s.require_visible(course)
    if course.status == "deleted":
        raise errors.CourseDeleted(f"course {course.id} not found")
    assert course.org_id is not None
    cohort.create(course.id, course.org_id, cmd.name, cmd.starts_on)
    return _cohort(cohort)


async def _member(s: Session, cohort_id: UUID, student_id: UUID) -> tuple[Cohort, Enrollment]:
    """The cohort and the student's enrolment in its course (both of the caller's organisation)."""
    cohort = await s.view(Cohort, cohort_id)
    s.require_visible(cohort)
    assert cohort.course_id is not None
    enrollment = await s.load(Enrollment, enrollment_id(cohort.course_id, student_id))
    if not enrollment.exists:
        raise errors.EnrollmentNotFound(f"student {student_id} is not enrolled in the cohort's course")
    s.require_visible(enrollment)
    return cohort, enrollment


def _membership(cohort: Cohort, enrollment: Enrollment) -> Decided:
    return Decided(
        enrollment,
        "enrollment",
        {"cohort_id": str(cohort.id), "course_id": str(cohort.course_id), "student_id": str(enrollment.student_id)},
    )


async def add_to_cohort(cmd: c.AddToCohort, s: Session) -> Decided:
    cohort, enrollment = await _member(s, cmd.cohort_id, cmd.student_id)
    enrollment.join_cohort(cohort.id)
    return _membership(cohort, enrollment)


async def remove_from_cohort(cmd: c.RemoveFromCohort, s: Session) -> Decided:
    cohort, enrollment = await _member(s, cmd.cohort_id, cmd.student_id)
    enrollment.leave_cohort(cohort.id)
    return _membership(cohort, enrollment)


async def assign_trainer(cmd: c.AssignTrainer, s: Session) -> Decided:
    cohort = await s.existing(Cohort, cmd.cohort_id)
    user = await s.view(User, cmd.trainer_id)
    assert cohort.org_id is not None
    roles = user.memberships.get(cohort.org_id) if user.exists else None
    if roles is None:
        raise UserNotFound(f"user {cmd.trainer_id} is not a member of the cohort's organisation")
    if TRAINER not in roles:
        raise InvalidTrainer("a cohort's trainers hold the trainer role in its organisation")
    cohort.assign_trainer(cmd.trainer_id)
    return _cohort(cohort, trainers=sorted(str(t) for t in cohort.trainers))


async def unassign_trainer(cmd: c.UnassignTrainer, s: Session) -> Decided:
    cohort = await s.existing(Cohort, cmd.cohort_id)
    cohort.unassign_trainer(cmd.trainer_id)
    return _cohort(cohort, trainers=sorted(str(t) for t in cohort.trainers))


async def give_feedback(cmd: c.GiveFeedback, s: Session) -> Decided:
    """Trainers reach the students of the cohorts they train; to anyone else the enrolment does
    not exist (the same answer as for a student they cannot see)."""
    await s.prefetch([(Enrollment, enrollment_id(cmd.course_id, cmd.student_id)), (Course, cmd.course_id)])
    enrollment = await s.load(Enrollment, enrollment_id(cmd.course_id, cmd.student_id))
    if not enrollment.exists:
        raise errors.EnrollmentNotFound("no such enrolment")
    s.require_visible(enrollment)
    if s.reach is Reach.OWN:
        cohort = await s.view(Cohort, enrollment.cohort_id) if enrollment.cohort_id else None
        if cohort is None or not cohort.trains(s.ctx.actor_id):
            raise errors.EnrollmentNotFound("no such enrolment among the students of the cohorts you train")
    if cmd.assessment_id is not None:
        course = await s.view(Course, cmd.course_id)
        _, lesson = course.published_revision(enrollment.revision).lesson(cmd.lesson_id)
        if lesson.content is None or lesson.content.assessment(cmd.assessment_id) is None:
            raise errors.AssessmentNotFound(f"lesson {cmd.lesson_id} has no assessment {cmd.assessment_id}")
    feedback_id = s.ports.ids.new_id()
    enrollment.give_feedback(feedback_id, s.ctx.actor_id, cmd.lesson_id, cmd.assessment_id, cmd.text, s.now)
    return Decided(
        enrollment,
        "enrollment",
        {"course_id": str(cmd.course_id), "student_id": str(cmd.student_id), "feedback_id": str(feedback_id)},
    )
