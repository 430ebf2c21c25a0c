"""Handlers of the lab commands: author a lesson's lab; start, use and end a lab session.

The lab runner asks the bus first (`RunLab`, `GradeLab` decide nothing but are refused like any
command: who, which session, which state), then drives the container, then records what it saw
with the runner-only `Record*` commands. A passing grade completes the lesson in the same
commit, through the enrolment's own decision.
"""

from __future__ import annotations

import dataclasses
from uuid import UUID

import msgspec

from commands.bus import Decided
from commands.courses import _authored
from commands.enrollments import _enrollment, _student, acting_for
from commands.errors import PermissionDenied
from commands.session import Session
from domain import errors
from domain.content import LessonContent
from domain.course import Course
from domain.enrollment import Enrollment, enrollment_id
from domain.lab import LabFile, LabRun, LabSession, LabSpec, lab_session_id
from schemas import labs as c
from schemas.access import Reach
from schemas.commands import LabSpec as WireLabSpec


def to_domain_lab(spec: WireLabSpec) -> LabSpec:
    return msgspec.convert(msgspec.to_builtins(spec), LabSpec)


def _session(lab: LabSession, **data: object) -> Decided:
    return Decided(lab, "lab_session", {"status": lab.status, "round": lab.round, **data})


async def set_lesson_lab(cmd: c.SetLessonLab, s: Session) -> Decided:
    course = await _authored(s, cmd.course_id)  # its authors, or the organisation's managers
    _, lesson = course.lesson(cmd.lesson_id)
    current = lesson.content or LessonContent()
    lab = to_domain_lab(cmd.lab) if cmd.lab is not None else None
    version = course.set_content(cmd.lesson_id, dataclasses.replace(current, lab=lab))
    return Decided(course, "course", {"content_version": version})


async def start_lab(cmd: c.StartLab, s: Session) -> Decided:
    student = _student(s, cmd.student_id)
    enrollment = await _enrollment(s, cmd.course_id, student)
    if enrollment.status != "active":
        raise errors.NotEnrolled(f"enrolment is {enrollment.status}")
    course = await s.view(Course, cmd.course_id)
    # The lab of the revision the student enrolled in, as for quizzes.
    _, lesson = course.published_revision(enrollment.revision).lesson(cmd.lesson_id)
    spec = lesson.content.lab if lesson.content else None
    if spec is None:
        raise errors.LessonHasNoLab(f"lesson {cmd.lesson_id} has no lab")
    lab = await s.load(LabSession, lab_session_id(enrollment.id, cmd.lesson_id))
    assert enrollment.org_id is not None
    lab.start(
        enrollment_id=enrollment.id,
        course_id=cmd.course_id,
        lesson_id=cmd.lesson_id,
        student_id=student,
        org_id=enrollment.org_id,
        revision=enrollment.revision,
        spec=spec,
        at=s.now,
    )
    return _session(lab)


async def _lab(s: Session, session_id: UUID) -> LabSession:
    """The session, if the caller may act on it: its student, or someone reaching the organisation."""
    lab = await s.load(LabSession, session_id)
    if not lab.exists:
        raise errors.LabSessionNotFound(f"lab session {session_id} not found")
    s.require_visible(lab)
    if lab.student_id != s.ctx.actor_id:
        if s.reach < Reach.ORGANISATION:
            raise PermissionDenied("only the student, their trainers and organisation admins use this lab")
        assert lab.enrollment_id is not None
        await acting_for(s, await s.view(Enrollment, lab.enrollment_id))
    return lab


async def write_lab_files(cmd: c.WriteLabFiles, s: Session) -> Decided:
    lab = await _lab(s, cmd.session_id)
    lab.write_files(tuple(LabFile(f.path, f.content) for f in cmd.files), s.now)
    return _session(lab)


async def run_lab(cmd: c.RunLab, s: Session) -> Decided:
    """Decides nothing: refuses a run the caller may not make now (the runner then runs it)."""
    lab = await _lab(s, cmd.session_id)
    if lab.status != "running":
        raise errors.LabSessionState(f"lab session is {lab.status}; a run needs it running")
    return _session(lab)


async def grade_lab(cmd: c.GradeLab, s: Session) -> Decided:
    lab = await _lab(s, cmd.session_id)
    if lab.status != "running":
        raise errors.LabSessionState(f"lab session is {lab.status}; grading needs it running")
    return _session(lab)


async def pause_lab(cmd: c.PauseLab, s: Session) -> Decided:
    lab = await _lab(s, cmd.session_id)
    lab.pause(s.now)
    return _session(lab)


async def resume_lab(cmd: c.ResumeLab, s: Session) -> Decided:
    lab = await _lab(s, cmd.session_id)
    lab.resume(s.now)
    return _session(lab)


async def stop_lab(cmd: c.StopLab, s: Session) -> Decided:
    lab = await _lab(s, cmd.session_id)
    lab.stop("student", s.now)
    return _session(lab)


def _run(record: c.LabRunRecord, *, grading: bool) -> LabRun:
    return LabRun(
        run_id=record.run_id,
        command=tuple(record.command),
        exit_code=record.exit_code,
        duration_ms=record.duration_ms,
        output_bytes=record.output_bytes,
        output_sha256=record.output_sha256,
        truncated=record.truncated,
        timed_out=record.timed_out,
        grading=grading,
        at=record.at,
    )


async def _recorded(s: Session, session_id: UUID) -> LabSession:
    lab = await s.load(LabSession, session_id)
    if not lab.exists:
        raise errors.LabSessionNotFound(f"lab session {session_id} not found")
    return lab


async def record_lab_run(cmd: c.RecordLabRun, s: Session) -> Decided:
    lab = await _recorded(s, cmd.session_id)
    lab.record_run(_run(cmd.run, grading=False))
    return _session(lab, exit_code=cmd.run.exit_code)


async def record_lab_grade(cmd: c.RecordLabGrade, s: Session) -> Decided:
    lab = await _recorded(s, cmd.session_id)
    passed = lab.grade(_run(cmd.run, grading=True))
    completed = False
    if passed:
        assert lab.course_id is not None and lab.student_id is not None and lab.lesson_id is not None
        enrollment = await s.load(Enrollment, enrollment_id(lab.course_id, lab.student_id))
        if enrollment.id == lab.enrollment_id and enrollment.status in ("active", "completed"):
            completed = enrollment.complete_lesson(lab.lesson_id, s.now)
    return _session(lab, passed=passed, lesson_completed=completed)


async def warn_lab_expiry(cmd: c.WarnLabExpiry, s: Session) -> Decided:
    lab = await _recorded(s, cmd.session_id)
    told = lab.warn_expiry(cmd.stops_at, s.now) if lab.live else False
    return _session(lab, told=told)


async def end_lab(cmd: c.EndLab, s: Session) -> Decided:
    lab = await _recorded(s, cmd.session_id)
    if lab.live:
        lab.stop(cmd.reason, s.now)
    return _session(lab)
