"""Handlers of the enrolment commands: enrol, learn, take quizzes, drop."""

from __future__ import annotations

from uuid import UUID

import msgspec

from commands.bus import Decided
from commands.errors import PermissionDenied
from commands.session import Session
from domain import errors
from domain.cohort import Cohort
from domain.course import Course, Revision
from domain.enrollment import Enrollment, ModuleOutline, enrollment_id
from domain.path import PathRequirements, path_requirements_id
from domain.seats import CourseSeats, seats_id
from schemas import commands as c
from schemas.access import ACTING_FOR, Reach


def _student(s: Session, student_id: UUID | None) -> UUID:
    """The caller, or another student when the caller may act for them."""
    if student_id is None or student_id == s.ctx.actor_id:
        return s.ctx.actor_id
    if s.reach < Reach.ORGANISATION:
        raise PermissionDenied("only trainers and organisation admins act for other students")
    return student_id


async def _live_course(s: Session, course_id: UUID) -> tuple[Course, Revision]:
    course = await s.view(Course, course_id)
    visible = (
        course.exists
        and course.live is not None
        and (course.org_id == s.ctx.org_id or course.live.details.public or s.reach is Reach.PLATFORM)
    )
    if not visible:
        s.require_visible(course)  # raises not found for strangers and missing courses
    if course.live is None or not course.open_for_enrolment:
        raise errors.CourseNotPublished("the course is not open for enrolment")
    return course, course.live


async def _title(s: Session, course_id: UUID) -> str:
    """A course's title as learners know it: its published revision's, else its draft's."""
    course = await s.view(Course, course_id)
    details = course.live.details if course.live else course.details
    return details.title if details else ""


def _enrolment(e: Enrollment, **data: object) -> Decided:
    return Decided(e, "enrollment", {"course_id": str(e.course_id), "student_id": str(e.student_id), **data})


async def enrol(cmd: c.Enrol, s: Session) -> Decided:
    student = _student(s, cmd.student_id)
    own = enrollment_id(cmd.course_id, student)
    paths = path_requirements_id(s.ctx.org_id, cmd.course_id)
    places = seats_id(cmd.course_id)
    # Every stream this decision may need, in one read (prerequisites aside).
    await s.prefetch([(Course, cmd.course_id), (Enrollment, own), (CourseSeats, places), (PathRequirements, paths)])
    course, live = await _live_course(s, cmd.course_id)
    # The course's own prerequisites, then those the organisation's learning paths add.
    required = await s.view(PathRequirements, paths)
    prereqs = tuple(dict.fromkeys((*live.details.prerequisites, *required.prerequisites)))
    wanted: list[tuple[type[Enrollment] | type[CourseSeats], UUID]] = [
        (Enrollment, own),
        *((Enrollment, enrollment_id(p, student)) for p in prereqs),
    ]
    if live.details.capacity is not None:
        wanted.append((CourseSeats, places))
    loaded = await s.load_many(wanted)
    enrollment = loaded[0]
    assert isinstance(enrollment, Enrollment)
    missing = [
        p
        for p, e in zip(prereqs, loaded[1 : 1 + len(prereqs)], strict=True)
        if not (isinstance(e, Enrollment) and e.ever_completed)
    ]
    if missing:
        raise errors.PrerequisitesMissing([(p, await _title(s, p)) for p in missing])
    outline = tuple(ModuleOutline(m.id, tuple(lesson.id for lesson in m.lessons)) for m in live.modules)
    enrollment.enrol(course.id, student, s.ctx.org_id, live.label, outline, s.now)
    if live.details.capacity is not None:
        seats = loaded[-1]
        assert isinstance(seats, CourseSeats)
        seats.take(student)
    return _enrolment(enrollment, round=enrollment.round)


async def _enrollment(s: Session, course_id: UUID, student_id: UUID | None) -> Enrollment:
    student = _student(s, student_id)
    await s.prefetch([(Enrollment, enrollment_id(course_id, student)), (Course, course_id)])
    enrollment = await s.load(Enrollment, enrollment_id(course_id, student))
    if not enrollment.exists:
        raise errors.EnrollmentNotFound("not enrolled in this course")
    s.require_visible(enrollment)
    await acting_for(s, enrollment)
    return enrollment


async def acting_for(s: Session, enrollment: Enrollment) -> None:
    """The caller may act on this enrolment: it is their own, they reach every enrolment of the
    organisation (its admins), or they train its cohort. To a trainer any other student's
    enrolment does not exist, as in the queries (projections/queries/privacy.py)."""
    if enrollment.student_id == s.ctx.actor_id or ACTING_FOR.reach(s.ctx.roles) >= Reach.ORGANISATION:
        return
    cohort = await s.view(Cohort, enrollment.cohort_id) if enrollment.cohort_id else None
    if cohort is None or not cohort.trains(s.ctx.actor_id):
        raise errors.EnrollmentNotFound("no such enrolment among the students of the cohorts you train")


async def complete_lesson(cmd: c.CompleteLesson, s: Session) -> Decided:
    enrollment = await _enrollment(s, cmd.course_id, cmd.student_id)
    changed = enrollment.complete_lesson(cmd.lesson_id, s.now)
    return _enrolment(enrollment, progress=round(enrollment.progress, 2), changed=changed)


async def submit_quiz(cmd: c.SubmitQuiz, s: Session) -> Decided:
    enrollment = await _enrollment(s, cmd.course_id, cmd.student_id)
    course = await s.view(Course, cmd.course_id)
    # Graded against the revision the student enrolled in, not a newer one or the draft.
    _, lesson = course.published_revision(enrollment.revision).lesson(cmd.lesson_id)
    content = lesson.content
    assessment = content.assessment(cmd.assessment_id) if content else None
    if assessment is None:
        raise errors.AssessmentNotFound(f"lesson {cmd.lesson_id} has no assessment {cmd.assessment_id}")
    answers = {k: tuple(v) for k, v in cmd.answers.items()}
    attempt = enrollment.submit_quiz(cmd.lesson_id, assessment, answers, s.now)
    return _enrolment(
        enrollment,
        attempt=msgspec.to_builtins(attempt),
        progress=round(enrollment.progress, 2),
    )


async def drop_enrollment(cmd: c.DropEnrollment, s: Session) -> Decided:
    enrollment = await _enrollment(s, cmd.course_id, cmd.student_id)
    enrollment.drop(cmd.reason, s.now)
    assert enrollment.student_id is not None
    seats = await s.load(CourseSeats, seats_id(cmd.course_id))
    if seats.exists:
        seats.release(enrollment.student_id)
    return _enrolment(enrollment)


async def archive_enrollment(cmd: c.ArchiveEnrollment, s: Session) -> Decided:
    enrollment = await _enrollment(s, cmd.course_id, cmd.student_id)
    enrollment.archive(s.now)
    return _enrolment(enrollment, archived=enrollment.archived)


async def unarchive_enrollment(cmd: c.UnarchiveEnrollment, s: Session) -> Decided:
    enrollment = await _enrollment(s, cmd.course_id, cmd.student_id)
    enrollment.unarchive(s.now)
    return _enrolment(enrollment, archived=enrollment.archived)
