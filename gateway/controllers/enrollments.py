"""Enrolment commands: enrol, complete a lesson, submit a quiz, drop, archive (hide) and back.

An enrolment is addressed by (course, student); `student_id` in a body lets trainers and
organisation admins act for a student of their organisation.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, post
from litestar.params import FromPath, JSONBody

from gateway.dispatch import CallerDep, ServicesDep, body, command_of, dispatch, route
from schemas import commands as c
from schemas.results import CommandResult

EnrolBody = body(c.Enrol, "course_id")
CompleteLessonBody = body(c.CompleteLesson, "course_id")
SubmitQuizBody = body(c.SubmitQuiz, "course_id")
DropEnrollmentBody = body(c.DropEnrollment, "course_id")
ArchiveEnrollmentBody = body(c.ArchiveEnrollment, "course_id")
UnarchiveEnrollmentBody = body(c.UnarchiveEnrollment, "course_id")

Answer = Response[CommandResult]
Req = Request[Any, Any, Any]


def _enrolment(r: CommandResult) -> str:
    course, student = r.data.get("course_id", ""), r.data.get("student_id", "")
    return f"/courses/{course}/students/{student}/progress?position={r.position}"


class EnrollmentController(Controller):
    path = "/courses/{course_id:uuid}/enrollments"
    tags = ["enrollments"]

    @route(post, "/", summary="Enrol the caller (or, for trainers, a student) in a course", status=201)
    async def enrol(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        course_id: FromPath[UUID],
        data: JSONBody[EnrolBody],
    ) -> Answer:
        cmd = command_of(c.Enrol, data, course_id=course_id)
        return await dispatch(services, request, caller, cmd, status=201, location=_enrolment)

    @route(post, "/completed-lessons", summary="Mark a lesson completed")
    async def complete_lesson(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        course_id: FromPath[UUID],
        data: JSONBody[CompleteLessonBody],
    ) -> Answer:
        cmd = command_of(c.CompleteLesson, data, course_id=course_id)
        return await dispatch(services, request, caller, cmd, location=_enrolment)

    @route(post, "/quiz-submissions", summary="Submit answers to a lesson's quiz", status=201)
    async def submit_quiz(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        course_id: FromPath[UUID],
        data: JSONBody[SubmitQuizBody],
    ) -> Answer:
        cmd = command_of(c.SubmitQuiz, data, course_id=course_id)
        return await dispatch(services, request, caller, cmd, status=201, location=_enrolment)

    @route(post, "/drop", summary="Drop the enrolment (frees the seat)")
    async def drop(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        course_id: FromPath[UUID],
        data: JSONBody[DropEnrollmentBody],
    ) -> Answer:
        cmd = command_of(c.DropEnrollment, data, course_id=course_id)
        return await dispatch(services, request, caller, cmd, location=_enrolment)

    @route(post, "/archive", summary="Hide a completed enrolment from the student's list of courses")
    async def archive(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        course_id: FromPath[UUID],
        data: JSONBody[ArchiveEnrollmentBody],
    ) -> Answer:
        cmd = command_of(c.ArchiveEnrollment, data, course_id=course_id)
        return await dispatch(services, request, caller, cmd, location=_enrolment)

    @route(post, "/unarchive", summary="Bring an archived enrolment back to the student's list")
    async def unarchive(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        course_id: FromPath[UUID],
        data: JSONBody[UnarchiveEnrollmentBody],
    ) -> Answer:
        cmd = command_of(c.UnarchiveEnrollment, data, course_id=course_id)
        return await dispatch(services, request, caller, cmd, location=_enrolment)
