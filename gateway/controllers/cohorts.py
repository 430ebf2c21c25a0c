"""Cohorts over HTTP: open one, put students' enrolments in it, name its trainers, read it with
its students' progress; and a trainer's feedback on a student's lesson or quiz."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from gateway.dispatch import CallerDep, ServicesDep, body, command_of, dispatch, route
from gateway.queries import Position
from projections import queries as rq
from schemas import commands as c
from schemas.readmodels import CohortDetail, CohortList
from schemas.results import CommandResult

CreateCohortBody = body(c.CreateCohort)
GiveFeedbackBody = body(c.GiveFeedback, "course_id", "student_id")

Answer = Response[CommandResult]
Req = Request[Any, Any, Any]


def _cohort(r: CommandResult) -> str:
    return f"/cohorts/{r.id}?position={r.position}"


def _member(r: CommandResult) -> str:
    return f"/cohorts/{r.data.get('cohort_id', '')}?position={r.position}"


class CohortController(Controller):
    path = "/cohorts"
    tags = ["cohorts"]

    @route(post, "/", summary="Open a cohort of a course (managers)", status=201)
    async def create(
        self, request: Req, services: ServicesDep, caller: CallerDep, data: JSONBody[CreateCohortBody]
    ) -> Answer:
        cmd = command_of(c.CreateCohort, data)
        return await dispatch(services, request, caller, cmd, status=201, location=_cohort)

    @route(get, "/", summary="Cohorts of the organisation (managers), or those the caller trains", status=200)
    async def list_cohorts(
        self,
        services: ServicesDep,
        caller: CallerDep,
        course_id: FromQuery[UUID | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 200,
        position: Position = None,
    ) -> CohortList:
        return await rq.cohorts(services.reader, caller, course_id=course_id, limit=limit, position=position)

    @route(get, "/{cohort_id:uuid}", summary="A cohort, its trainers and its students' progress", status=200)
    async def detail(
        self, services: ServicesDep, caller: CallerDep, cohort_id: FromPath[UUID], position: Position = None
    ) -> CohortDetail:
        return await rq.cohort_detail(services.reader, caller, cohort_id, position=position)

    @route(put, "/{cohort_id:uuid}/students/{student_id:uuid}", summary="Put a student's enrolment in the cohort")
    async def add_student(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        cohort_id: FromPath[UUID],
        student_id: FromPath[UUID],
    ) -> Answer:
        cmd = c.AddToCohort(cohort_id=cohort_id, student_id=student_id)
        return await dispatch(services, request, caller, cmd, location=_member)

    @route(delete, "/{cohort_id:uuid}/students/{student_id:uuid}", summary="Take a student's enrolment out of it")
    async def remove_student(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        cohort_id: FromPath[UUID],
        student_id: FromPath[UUID],
    ) -> Answer:
        cmd = c.RemoveFromCohort(cohort_id=cohort_id, student_id=student_id)
        return await dispatch(services, request, caller, cmd, location=_member)

    @route(put, "/{cohort_id:uuid}/trainers/{trainer_id:uuid}", summary="Make a trainer one of the cohort's trainers")
    async def assign_trainer(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        cohort_id: FromPath[UUID],
        trainer_id: FromPath[UUID],
    ) -> Answer:
        cmd = c.AssignTrainer(cohort_id=cohort_id, trainer_id=trainer_id)
        return await dispatch(services, request, caller, cmd, location=_cohort)

    @route(delete, "/{cohort_id:uuid}/trainers/{trainer_id:uuid}", summary="Take a trainer off the cohort")
    async def unassign_trainer(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        cohort_id: FromPath[UUID],
        trainer_id: FromPath[UUID],
    ) -> Answer:
        cmd = c.UnassignTrainer(cohort_id=cohort_id, trainer_id=trainer_id)
        return await dispatch(services, request, caller, cmd, location=_cohort)


class FeedbackController(Controller):
    path = "/courses/{course_id:uuid}/students/{student_id:uuid}"
    tags = ["cohorts"]

    @route(post, "/feedback", summary="Give a student feedback on a lesson or quiz (their trainers)", status=201)
    async def give(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        course_id: FromPath[UUID],
        student_id: FromPath[UUID],
        data: JSONBody[GiveFeedbackBody],
    ) -> Answer:
        cmd = command_of(c.GiveFeedback, data, course_id=course_id, student_id=student_id)
        return await dispatch(
            services,
            request,
            caller,
            cmd,
            status=201,
            location=lambda r: f"/courses/{course_id}/students/{student_id}/progress?position={r.position}",
        )
