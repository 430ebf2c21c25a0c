"""The lab runner's desk: its requests as the edges answer them (wire types), in process or over
NATS.

`LabDesk` wraps a `LabRunner` and answers with the wire structs of `schemas.labs` (a run as a
`LabRunView`, a grade as a `GradeView`). `serve_runner` puts the desk on NATS for gateways in
other processes: request/reply on `<prefix>.labrunner.<op>` in the queue group `cw-labs`, each
request a `RunnerRequest` (the context the gateway built from the caller's token, the command's
JSON); a run's output goes, chunk by chunk, to the subject the request names, closed by a message
with the `Cw-Lab-End` header before the reply. A refusal is a `RunnerFailure` with the header
`Cw-Lab-Failure`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

import msgspec
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from commands.context import Context
from domain import errors
from infra.errors import ConcurrencyError, Unavailable
from infra.labengine import EngineError
from infra.logging import bound_contextvars, get_logger
from labrunner.runner import LabRunner, OutputSink, run_view
from schemas import labs as c
from schemas.results import CommandResult
from schemas.roles import ANYONE, ROLES

log = get_logger(__name__)

QUEUE_GROUP = "cw-labs"
FAILURE_HEADER = "Cw-Lab-Failure"
END_HEADER = "Cw-Lab-End"
OPS = ("start", "show", "files", "run", "grade", "pause", "resume", "stop")
_encode = msgspec.json.Encoder().encode


def runner_subject(prefix: str, op: str) -> str:
    return f"{prefix}.labrunner.{op}"


class LabDesk:
    """The runner's requests, answered with wire types (for HTTP, the messaging API and NATS)."""

    def __init__(self, runner: LabRunner) -> None:
        self.runner = runner

    @property
    def available(self) -> bool:
        return self.runner.available

    async def start(self, cmd: c.StartLab, ctx: Context) -> CommandResult:
        return await self.runner.start(cmd, ctx)

    async def show(self, session_id: UUID, ctx: Context) -> c.LabSessionView:
        return await self.runner.view(session_id, ctx)

    async def write_files(self, cmd: c.WriteLabFiles, ctx: Context) -> CommandResult:
        return await self.runner.write_files(cmd, ctx)

    async def run(self, cmd: c.RunLab, ctx: Context, sink: OutputSink | None = None) -> c.LabRunView:
        outcome = await self.runner.run(cmd, ctx, sink)
        return run_view(outcome.run, outcome.output)

    async def grade(self, cmd: c.GradeLab, ctx: Context) -> c.GradeView:
        outcome = await self.runner.grade(cmd, ctx)
        data = outcome.reply.data
        return c.GradeView(
            passed=bool(data["passed"]),
            lesson_completed=bool(data["lesson_completed"]),
            run=run_view(outcome.run, outcome.output),
        )

    async def pause(self, cmd: c.PauseLab, ctx: Context) -> CommandResult:
        return await self.runner.pause(cmd, ctx)

    async def resume(self, cmd: c.ResumeLab, ctx: Context) -> CommandResult:
        return await self.runner.resume(cmd, ctx)

    async def stop(self, cmd: c.StopLab, ctx: Context) -> CommandResult:
        return await self.runner.stop(cmd, ctx)


def failure_of(exc: Exception) -> c.RunnerFailure:
    """The wire form of a refusal (the gateway turns it back into the same problem)."""
    match exc:
        case errors.NotFound():
            return c.RunnerFailure(kind="not_found", code=exc.code, detail=str(exc))
        case errors.Forbidden():
            return c.RunnerFailure(kind="forbidden", code=exc.code, detail=str(exc))
        case errors.Conflict():
            return c.RunnerFailure(kind="conflict", code=exc.code, detail=str(exc))
        case errors.RuleViolation():
            return c.RunnerFailure(kind="rule", code=exc.code, detail=str(exc))
        case errors.DomainError():
            return c.RunnerFailure(kind="domain", code=exc.code, detail=str(exc))
        case ConcurrencyError():
            return c.RunnerFailure(kind="conflict", code="concurrent_modification", detail=str(exc))
        case Unavailable():
            return c.RunnerFailure(kind="unavailable", code="unavailable", detail=str(exc), service=exc.service)
        case EngineError():
            return c.RunnerFailure(kind="unavailable", code="unavailable", detail=str(exc), service="lab engine")
        case msgspec.ValidationError() | msgspec.DecodeError():
            return c.RunnerFailure(kind="invalid", code="invalid_request", detail=str(exc))
        case _:
            return c.RunnerFailure(kind="internal", code="internal_error", detail="the lab runner failed; it is logged")


Handler = Callable[[LabDesk, Any, Context, OutputSink | None], Awaitable[msgspec.Struct]]


def _handlers() -> dict[str, tuple[type[msgspec.Struct], Handler]]:
    return {
        "start": (c.StartLab, lambda d, cmd, ctx, _: d.start(cmd, ctx)),
        "show": (c.ShowLab, lambda d, q, ctx, _: d.show(q.session_id, ctx)),
        "files": (c.WriteLabFiles, lambda d, cmd, ctx, _: d.write_files(cmd, ctx)),
        "run": (c.RunLab, lambda d, cmd, ctx, sink: d.run(cmd, ctx, sink)),
        "grade": (c.GradeLab, lambda d, cmd, ctx, _: d.grade(cmd, ctx)),
        "pause": (c.PauseLab, lambda d, cmd, ctx, _: d.pause(cmd, ctx)),
        "resume": (c.ResumeLab, lambda d, cmd, ctx, _: d.resume(cmd, ctx)),
        "stop": (c.StopLab, lambda d, cmd, ctx, _: d.stop(cmd, ctx)),
    }


async def serve_runner(desk: LabDesk, nc: NATS, prefix: str) -> None:
    """Answer `<prefix>.labrunner.<op>` until cancelled (each request on a task of its own: a long
    run does not hold up the others)."""
    tasks: set[asyncio.Task[None]] = set()
    subscriptions = []
    for op, (kind, handler) in _handlers().items():

        async def receive(msg: Msg, kind: type[msgspec.Struct] = kind, handler: Handler = handler) -> None:
            task = asyncio.create_task(_answer(desk, nc, msg, kind, handler))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        subscriptions.append(await nc.subscribe(runner_subject(prefix, op), queue=QUEUE_GROUP, cb=receive))
    log.info("labs.serving", subject=runner_subject(prefix, ">"))
    try:
        await asyncio.Event().wait()
    finally:
        for sub in subscriptions:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        for task in list(tasks):
            task.cancel()


async def _answer(desk: LabDesk, nc: NATS, msg: Msg, kind: type[msgspec.Struct], handler: Handler) -> None:
    request: c.RunnerRequest | None = None
    try:
        request = msgspec.json.decode(msg.data, type=c.RunnerRequest)
        ctx = Context(
            actor_id=request.actor_id,
            org_id=request.org_id,
            # Only roles a token may carry: the runner's own role is the runner's to add.
            roles=frozenset(r for r in ROLES if r in request.roles) | {ANYONE},
            correlation_id=request.correlation_id,
            causation_id=request.causation_id,
            idempotency_key=request.idempotency_key,
        )
        with bound_contextvars(correlation_id=request.correlation_id, subject=msg.subject):
            payload = msgspec.json.decode(request.command, type=kind)
            output = request.output
            sink: OutputSink | None = None
            if output is not None:

                async def publish(data: bytes, subject: str = output) -> None:
                    await nc.publish(subject, data)

                sink = publish
            try:
                answer = await handler(desk, payload, ctx, sink)
            finally:
                if output is not None:
                    await nc.publish(output, b"", headers={END_HEADER: "1"})
        await msg.respond(_encode(answer))
    except Exception as exc:
        failure = failure_of(exc)
        if failure.kind == "internal":
            log.exception("labs.request_failed", subject=msg.subject)
        with contextlib.suppress(Exception):
            await nc.publish(msg.reply, _encode(failure), headers={FAILURE_HEADER: failure.kind})


async def run_runner(runner: LabRunner, nc: NATS, prefix: str) -> None:
    """The `labs` component: the runner (waiting for an engine, then reaping), and, once it is
    open, its desk on NATS for the gateways; until cancelled."""
    running = asyncio.create_task(runner.run_forever(), name="labs-runner")
    serving: asyncio.Task[None] | None = None
    try:
        opened = asyncio.create_task(runner.opened.wait())
        await asyncio.wait({running, opened}, return_when=asyncio.FIRST_COMPLETED)
        opened.cancel()
        if not running.done():
            serving = asyncio.create_task(serve_runner(LabDesk(runner), nc, prefix), name="labs-desk")
            await asyncio.wait({running, serving}, return_when=asyncio.FIRST_COMPLETED)
        for task in (running, serving):
            if task is not None and task.done():
                task.result()  # a failure ends the component (the supervisor restarts it)
    finally:
        for task in (serving, running):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
