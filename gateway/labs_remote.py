"""The lab runner of another process, reached over NATS (`labrunner/service.py` serves it).

Under `coursewright up` the gateway processes run no sandboxes: the `labs` component does. Each
lab request goes to it as a `RunnerRequest` (the context the gateway built from the caller's
token, the command's JSON); a streamed run's output arrives on a subject of this process's own
and is handed to the caller's sink as it comes. A refusal comes back as the same error family and
code, so the problem the caller sees is the one an in-process runner would have given.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from uuid import UUID

import msgspec
import nats.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from commands.context import Context
from domain import errors
from infra.errors import Unavailable
from infra.nats import NatsConnector, close_quietly
from labrunner.runner import OutputSink
from labrunner.service import END_HEADER, FAILURE_HEADER, LabDesk, runner_subject
from schemas import labs as c
from schemas.results import CommandResult

T = TypeVar("T", bound=msgspec.Struct)
_encode = msgspec.json.Encoder().encode
# A start may wait for a free slot on the host, a run for its wall clock: give both their time.
LONG_SECONDS = 900.0
SHORT_SECONDS = 60.0
_FAMILIES: dict[str, type[errors.DomainError]] = {
    "not_found": errors.NotFound,
    "forbidden": errors.Forbidden,
    "conflict": errors.Conflict,
    "rule": errors.RuleViolation,
    "domain": errors.DomainError,
}


class RemoteLabError(Exception):
    """The runner failed in a way it did not explain (logged there)."""


def raise_failure(failure: c.RunnerFailure) -> None:
    """Raise the error the runner reported, in the family the problem map knows."""
    family = _FAMILIES.get(failure.kind)
    if family is not None:
        error = family(failure.detail)
        error.code = failure.code  # the runner's exact code (lab_quota_exceeded, ...)
        raise error
    if failure.kind == "unavailable":
        raise Unavailable(failure.service or "lab runner", failure.detail)
    if failure.kind == "invalid":
        raise msgspec.ValidationError(failure.detail)
    raise RemoteLabError(failure.detail)


class RemoteLabs:
    """The `LabDesk` interface, answered by the lab runner process over NATS."""

    available = True  # whether a runner answers is known per request (503 when none does)

    def __init__(self, nats: NatsConnector, prefix: str) -> None:
        self.nats = nats
        self.prefix = prefix
        self._nc: NATS | None = None
        self._lock = asyncio.Lock()

    async def _connection(self) -> NATS:
        async with self._lock:
            if self._nc is None or self._nc.is_closed:
                self._nc = await self.nats.connect("coursewright-labs-client")
            return self._nc

    async def close(self) -> None:
        nc, self._nc = self._nc, None
        if nc is not None:
            await close_quietly(nc)

    async def relay(self, subject: str) -> tuple[OutputSink, Callable[[], Awaitable[None]]]:
        """A sink that publishes output chunks to `subject` (a NATS client's inbox), and what ends
        the stream there (an empty message with the `Cw-Lab-End` header, flushed)."""
        nc = await self._connection()

        async def sink(data: bytes) -> None:
            await nc.publish(subject, data)

        async def end() -> None:
            await nc.publish(subject, b"", headers={END_HEADER: "1"})
            await nc.flush()

        return sink, end

    async def _ask(
        self,
        op: str,
        command: msgspec.Struct,
        ctx: Context,
        reply: type[T],
        *,
        wait_s: float = SHORT_SECONDS,
        output: str | None = None,
    ) -> T:
        request = c.RunnerRequest(
            actor_id=ctx.actor_id,
            org_id=ctx.org_id,
            roles=sorted(ctx.roles),
            correlation_id=ctx.correlation_id,
            causation_id=ctx.causation_id,
            idempotency_key=ctx.idempotency_key,
            command=msgspec.Raw(_encode(command)),
            output=output,
        )
        nc = await self._connection()
        try:
            msg = await nc.request(runner_subject(self.prefix, op), _encode(request), timeout=wait_s)
        except nats.errors.NoRespondersError:
            raise Unavailable("lab runner", "no lab runner answers (is a Docker engine up?)") from None
        except nats.errors.TimeoutError:
            raise Unavailable("lab runner", f"the lab runner did not answer within {wait_s:.0f} s") from None
        return _decode(msg, reply)

    async def start(self, cmd: c.StartLab, ctx: Context) -> CommandResult:
        return await self._ask("start", cmd, ctx, CommandResult, wait_s=LONG_SECONDS)

    async def show(self, session_id: UUID, ctx: Context) -> c.LabSessionView:
        return await self._ask("show", c.ShowLab(session_id=session_id), ctx, c.LabSessionView)

    async def write_files(self, cmd: c.WriteLabFiles, ctx: Context) -> CommandResult:
        return await self._ask("files", cmd, ctx, CommandResult)

    async def run(self, cmd: c.RunLab, ctx: Context, sink: OutputSink | None = None) -> c.LabRunView:
        if sink is None:
            return await self._ask("run", cmd, ctx, c.LabRunView, wait_s=LONG_SECONDS)
        nc = await self._connection()
        inbox = nc.new_inbox()
        chunks: asyncio.Queue[Msg] = asyncio.Queue()

        async def receive(msg: Msg) -> None:
            chunks.put_nowait(msg)

        sub = await nc.subscribe(inbox, cb=receive)
        try:
            asked = asyncio.ensure_future(self._ask("run", cmd, ctx, c.LabRunView, wait_s=LONG_SECONDS, output=inbox))
            while True:
                got = asyncio.ensure_future(chunks.get())
                done, _ = await asyncio.wait({got, asked}, return_when=asyncio.FIRST_COMPLETED)
                if got not in done:  # answered (or failed) with no end mark: what came is all
                    got.cancel()
                    break
                msg = got.result()
                if (msg.headers or {}).get(END_HEADER):
                    break
                await sink(msg.data)
            while not chunks.empty():  # chunks that came with the answer
                msg = chunks.get_nowait()
                if not (msg.headers or {}).get(END_HEADER):
                    await sink(msg.data)
            return await asked
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def grade(self, cmd: c.GradeLab, ctx: Context) -> c.GradeView:
        return await self._ask("grade", cmd, ctx, c.GradeView, wait_s=LONG_SECONDS)

    async def pause(self, cmd: c.PauseLab, ctx: Context) -> CommandResult:
        return await self._ask("pause", cmd, ctx, CommandResult)

    async def resume(self, cmd: c.ResumeLab, ctx: Context) -> CommandResult:
        return await self._ask("resume", cmd, ctx, CommandResult)

    async def stop(self, cmd: c.StopLab, ctx: Context) -> CommandResult:
        return await self._ask("stop", cmd, ctx, CommandResult)


def lab_desk(local: LabDesk | None, remote: RemoteLabs | None) -> LabDesk | RemoteLabs:
    """This process's runner when it runs one (open), else the runner process over NATS."""
    if local is not None and local.available:
        return local
    if remote is not None:
        return remote
    raise Unavailable("lab runner", "no Docker engine answers")


def _decode(msg: Msg, reply: type[T]) -> T:
    headers: dict[str, Any] = msg.headers or {}
    if headers.get(FAILURE_HEADER):
        raise_failure(msgspec.json.decode(msg.data, type=c.RunnerFailure))
    return msgspec.json.decode(msg.data, type=reply)
