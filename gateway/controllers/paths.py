"""Learning paths over HTTP: lay one out, revise it, read the organisation's, and a student's
progress along one."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from gateway.dispatch import CallerDep, ServicesDep, body, command_of, dispatch, route
from gateway.queries import Position
from projections import queries as rq
from schemas import commands as c
from schemas.readmodels import LearningPathList, LearningPathView, PathProgress
from schemas.results import CommandResult

CreatePathBody = body(c.CreateLearningPath)
RevisePathBody = body(c.ReviseLearningPath, "path_id")

Answer = Response[CommandResult]
Req = Request[Any, Any, Any]


def _path(r: CommandResult) -> str:
    return f"/paths/{r.id}?position={r.position}"


class LearningPathController(Controller):
    path = "/paths"
    tags = ["paths"]

    @route(post, "/", summary="Lay out a learning path: courses in order, prerequisites between them", status=201)
    async def create(
        self, request: Req, services: ServicesDep, caller: CallerDep, data: JSONBody[CreatePathBody]
    ) -> Answer:
        cmd = command_of(c.CreateLearningPath, data)
        return await dispatch(services, request, caller, cmd, status=201, location=_path)

    @route(put, "/{path_id:uuid}", summary="Revise a learning path's courses and prerequisites")
    async def revise(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        path_id: FromPath[UUID],
        data: JSONBody[RevisePathBody],
    ) -> Answer:
        cmd = command_of(c.ReviseLearningPath, data, path_id=path_id)
        return await dispatch(services, request, caller, cmd, location=_path)

    @route(get, "/", summary="The organisation's learning paths", status=200)
    async def list_paths(self, services: ServicesDep, caller: CallerDep, position: Position = None) -> LearningPathList:
        return await rq.learning_paths(services.reader, caller, position=position)

    @route(get, "/{path_id:uuid}", summary="One learning path, its courses and prerequisites", status=200)
    async def detail(
        self, services: ServicesDep, caller: CallerDep, path_id: FromPath[UUID], position: Position = None
    ) -> LearningPathView:
        return await rq.learning_path(services.reader, caller, path_id, position=position)

    @route(
        get,
        "/{path_id:uuid}/progress",
        summary="A student's progress along the path (the caller's, or with ?student_id= a student they see)",
        status=200,
    )
    async def progress(
        self,
        services: ServicesDep,
        caller: CallerDep,
        path_id: FromPath[UUID],
        student_id: FromQuery[UUID | None] = None,
        position: Position = None,
    ) -> PathProgress:
        return await rq.path_progress(services.reader, caller, path_id, student_id=student_id, position=position)
