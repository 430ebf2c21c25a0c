"""Lab sessions over HTTP: start, files, runs (JSON or streamed as server-sent events), grade,
pause, resume, stop, and the session with its files and last runs.

Every request is handed to this process's lab runner when it runs one, else to the lab runner
process over NATS (`Services.lab_desk`); while no runner answers, lab requests answer 503.
"""

from __future__ import annotations

import asyncio
import codecs
from collections.abc import AsyncIterator
from typing import Any, TypeVar
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody
from litestar.response import ServerSentEvent, ServerSentEventMessage

from gateway.dispatch import CallerDep, ServicesDep, body, command_of, context, dispatch, route
from gateway.labs_remote import RemoteLabs
from gateway.services import Services
from labrunner.service import LabDesk
from schemas import labs as c
from schemas.commands import Command
from schemas.results import CommandResult

C = TypeVar("C", bound=Command)

StartLabBody = body(c.StartLab)
WriteLabFilesBody = body(c.WriteLabFiles, "session_id")
RunLabBody = body(c.RunLab, "session_id")

Req = Request[Any, Any, Any]


def _runner(services: Services) -> LabDesk | RemoteLabs:
    return services.lab_desk()


def _command(kind: type[C], data: msgspec.Struct | None, **path: Any) -> C:
    """The command of `kind` from its body and the path (typed as that kind)."""
    cmd = command_of(kind, data, **path)
    assert isinstance(cmd, kind)
    return cmd


def _session(r: CommandResult) -> str:
    return f"/labs/sessions/{r.id}"


class LabController(Controller):
    path = "/labs/sessions"
    tags = ["labs"]

    @route(post, "/", summary="Start a lab session on a lesson of the caller's (or a student's) enrolment", status=201)
    async def start(
        self, request: Req, services: ServicesDep, caller: CallerDep, data: JSONBody[StartLabBody]
    ) -> Response[CommandResult]:
        reply = await _runner(services).start(_command(c.StartLab, data), context(request, caller))
        return Response(reply, status_code=201, headers={"Location": _session(reply)})

    @route(get, "/{session_id:uuid}", summary="A lab session: its files and last runs", status=200)
    async def show(
        self, request: Req, services: ServicesDep, caller: CallerDep, session_id: FromPath[UUID]
    ) -> c.LabSessionView:
        return await _runner(services).show(session_id, context(request, caller))

    @route(post, "/{session_id:uuid}/files", summary="Write files into the session's work dir")
    async def write_files(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        session_id: FromPath[UUID],
        data: JSONBody[WriteLabFilesBody],
    ) -> Response[CommandResult]:
        cmd = _command(c.WriteLabFiles, data, session_id=session_id)
        reply = await _runner(services).write_files(cmd, context(request, caller))
        return _accepted(reply)

    @route(
        post,
        "/{session_id:uuid}/runs",
        summary="Run the lab's command (or another) and answer its capped output",
        status=200,
    )
    async def run(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        session_id: FromPath[UUID],
        data: JSONBody[RunLabBody],
    ) -> c.LabRunView:
        cmd = _command(c.RunLab, data, session_id=session_id)
        return await _runner(services).run(cmd, context(request, caller))

    @route(
        post,
        "/{session_id:uuid}/runs/stream",
        summary="Run and stream the output as server-sent events (`output` chunks, then `result`)",
        status=200,
    )
    async def run_streamed(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        session_id: FromPath[UUID],
        data: JSONBody[RunLabBody],
    ) -> ServerSentEvent:
        runner = _runner(services)
        cmd = _command(c.RunLab, data, session_id=session_id)
        ctx = context(request, caller)
        # The bus's refusal (who, which state) answers as a problem before the stream begins.
        await services.bus.handle(cmd, ctx)
        return ServerSentEvent(_stream(runner, cmd, ctx))

    @route(
        post,
        "/{session_id:uuid}/grade",
        summary="Run the hidden grading tests; a pass completes the lesson",
        status=200,
    )
    async def grade(
        self, request: Req, services: ServicesDep, caller: CallerDep, session_id: FromPath[UUID]
    ) -> c.GradeView:
        return await _runner(services).grade(c.GradeLab(session_id=session_id), context(request, caller))

    @route(post, "/{session_id:uuid}/pause", summary="Freeze the session's sandbox")
    async def pause(
        self, request: Req, services: ServicesDep, caller: CallerDep, session_id: FromPath[UUID]
    ) -> Response[CommandResult]:
        reply = await _runner(services).pause(c.PauseLab(session_id=session_id), context(request, caller))
        return _accepted(reply)

    @route(post, "/{session_id:uuid}/resume", summary="Thaw the session's sandbox")
    async def resume(
        self, request: Req, services: ServicesDep, caller: CallerDep, session_id: FromPath[UUID]
    ) -> Response[CommandResult]:
        reply = await _runner(services).resume(c.ResumeLab(session_id=session_id), context(request, caller))
        return _accepted(reply)

    @route(post, "/{session_id:uuid}/stop", summary="Stop the session and remove its sandbox")
    async def stop(
        self, request: Req, services: ServicesDep, caller: CallerDep, session_id: FromPath[UUID]
    ) -> Response[CommandResult]:
        reply = await _runner(services).stop(c.StopLab(session_id=session_id), context(request, caller))
        return _accepted(reply)


def _accepted(reply: CommandResult) -> Response[CommandResult]:
    """A session change the runner took on: 202, with where the session reads back."""
    return Response(reply, status_code=202, headers={"Location": _session(reply)})


async def _stream(runner: LabDesk | RemoteLabs, cmd: c.RunLab, ctx: Any) -> AsyncIterator[ServerSentEventMessage]:
    """Output chunks as they come, then the run. A client that leaves does not stop the run:
    it finishes and is recorded all the same."""
    chunks: asyncio.Queue[bytes | None] = asyncio.Queue()

    async def sink(data: bytes) -> None:
        chunks.put_nowait(data)

    async def execute() -> c.LabRunView:
        try:
            return await runner.run(cmd, ctx, sink)
        finally:
            chunks.put_nowait(None)

    task = asyncio.ensure_future(execute())
    text = codecs.getincrementaldecoder("utf-8")(errors="replace")
    while (chunk := await chunks.get()) is not None:
        if piece := text.decode(chunk):
            yield ServerSentEventMessage(data=piece, event="output")
    if tail := text.decode(b"", final=True):
        yield ServerSentEventMessage(data=tail, event="output")
    ran = await task
    yield ServerSentEventMessage(data=msgspec.json.encode(ran).decode(), event="result")


SetLessonLabBody = body(c.SetLessonLab, "course_id", "lesson_id")


class LessonLabController(Controller):
    path = "/courses/{course_id:uuid}/lessons/{lesson_id:uuid}/lab"
    tags = ["labs"]

    @route(
        post, "/", summary="Give the lesson a lab (or none): a new content version, reviewed like the rest", status=201
    )
    async def set_lab(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        course_id: FromPath[UUID],
        lesson_id: FromPath[UUID],
        data: JSONBody[SetLessonLabBody],
    ) -> Response[CommandResult]:
        cmd = command_of(c.SetLessonLab, data, course_id=course_id, lesson_id=lesson_id)

        def location(r: CommandResult) -> str:
            return f"/courses/{course_id}/lessons/{lesson_id}/content/{r.data['content_version']}"

        return await dispatch(services, request, caller, cmd, status=201, location=location)
