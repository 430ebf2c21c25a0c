"""The lab runner: one sandbox per live lab session on this host, driven by the lab commands.

Every request goes through the command bus first, so it is authorised and checked against the
session's state by the one table and the aggregate; only then is the sandbox touched, and what
the sandbox did is recorded (runs, grades, ends) with the runner's own role. At most
`max_sessions` sandboxes run on the host: a start beyond waits its turn. Quotas per student and
per organisation refuse a start outright (starts under way count, so concurrent ones cannot
overshoot them). Idle sessions are reaped; `warn_before_s` before it would reap one, the runner
tells its student (`LabSessionExpiring`, once per idle period: any use starts a new one).
Sandboxes left by a runner that died are removed when the next one starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from uuid import UUID

from commands import codec
from commands.bus import CommandBus
from commands.context import Context
from domain import errors
from domain.cohort import Cohort
from domain.enrollment import Enrollment
from domain.ids import name_id
from domain.lab import LabRun, LabSession, LabSpec
from infra.labengine import EngineError, LabEngine, RunResult, SandboxGone, SandboxSpec
from infra.logging import get_logger
from schemas import labs as c
from schemas.access import ACTING_FOR, QUERIES, Query, Reach
from schemas.commands import LabFile
from schemas.results import CommandResult
from schemas.roles import LAB_RUNNER

log = get_logger(__name__)

RUNNER_ACTOR = name_id(UUID("5b0c2d1e-7a4f-4e8b-9c61-3f2a8d7e6b14"), "lab-runner")  # who reaps and recovers
LABEL = "coursewright.lab"  # every sandbox of ours carries it (its value: the runner's name)
SESSION_LABEL = "coursewright.lab.session"
OUTPUTS_KEPT = 5  # outputs of a session's last runs, kept in memory for `GET`


@dataclass(frozen=True)
class RunnerLimits:
    max_sessions: int = 8  # sandboxes at once on this host; starts beyond wait
    per_student: int = 2
    per_organisation: int = 50
    reap_every_s: float = 30.0  # the reaper's longest sleep (it wakes sooner for a warning or a stop due)
    # An idle session's student is told this long before it is stopped (at most half its idle limit).
    warn_before_s: float = 120.0


@dataclass
class Live:
    """A sandbox this runner holds for a session."""

    session_id: UUID
    sandbox_id: str
    student_id: UUID
    org_id: UUID
    spec: LabSpec
    last_used: float
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one run at a time
    outputs: deque[tuple[UUID, bytes]] = field(default_factory=lambda: deque(maxlen=OUTPUTS_KEPT))
    warned: bool = False  # told it expires, in this idle period

    def use(self, now: float) -> None:
        """Used now: a new idle period begins."""
        self.last_used, self.warned = now, False

    @property
    def idle_limit_s(self) -> float:
        return self.spec.limits.idle_minutes * 60.0

    def warn_at_s(self, warn_before_s: float) -> float:
        """Idle seconds at which its student is told: `warn_before_s` before the limit, but not
        before half of it (a short lab would otherwise warn at every use)."""
        return self.idle_limit_s - min(warn_before_s, self.idle_limit_s / 2)


@dataclass(frozen=True)
class RunOutcome:
    run: LabRun
    output: bytes  # what the student sees (empty for a grading run: the hidden tests stay hidden)
    reply: CommandResult


OutputSink = Callable[[bytes], Awaitable[None]]


class LabRunner:
    def __init__(
        self,
        bus: CommandBus,
        engine: LabEngine,
        *,
        name: str = "default",
        limits: RunnerLimits | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bus = bus
        self.engine = engine
        self.name = name
        self.limits = limits or RunnerLimits()
        self.monotonic = monotonic
        self.live: dict[UUID, Live] = {}
        self.available = False  # the engine answered and this runner's leftovers are cleared
        self.opened = asyncio.Event()  # set with `available`
        self._slots = asyncio.Semaphore(self.limits.max_sessions)
        self._starting: list[tuple[UUID, UUID]] = []  # (student, organisation) of starts under way
        self._opened_one = asyncio.Event()  # wakes the reaper: a new session has deadlines of its own

    # -- lifecycle ---------------------------------------------------------------------------

    async def recover(self) -> int:
        """Remove the sandboxes a previous runner of this name left, and end their sessions."""
        found = await self.engine.sandboxes({LABEL: self.name})
        for sandbox, labels in found.items():
            await self.engine.remove(sandbox)
            if SESSION_LABEL in labels:
                await self._end(UUID(labels[SESSION_LABEL]), "recovered")
        if found:
            log.info("labs.recovered", sandboxes=len(found))
        return len(found)

    async def open(self) -> None:
        """Build the images if needed and clear what a previous runner of this name left."""
        await self.engine.ensure_images()
        await self.recover()
        self.available = True
        self.opened.set()
        log.info("labs.ready", runner=self.name, max_sessions=self.limits.max_sessions)

    async def run_forever(self, engine_poll_s: float = 30.0) -> None:
        """Wait for the engine (saying so once), open, then reap idle sessions until cancelled."""
        waited = 0
        while not await self.engine.ping():
            if not waited:
                log.warning("labs.no_engine", detail="no Docker engine answers: labs are off until one does")
            waited += 1
            await asyncio.sleep(engine_poll_s)
        try:
            await self.open()
            while True:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.next_reap_s()):
                        await self._opened_one.wait()
                self._opened_one.clear()
                await self.reap()
        finally:
            self.available = False
            self.opened.clear()
            await asyncio.shield(self.shutdown())

    async def shutdown(self) -> None:
        """Remove every sandbox this runner holds (their sessions end as recovered)."""
        for live in list(self.live.values()):
            await self._discard(live, "recovered")

    async def reap(self) -> int:
        """Stop sessions idle past their lab's idle limit; warn those within `warn_before_s` of it."""
        now = self.monotonic()
        idle = [x for x in self.live.values() if now - x.last_used > x.idle_limit_s]
        for live in idle:
            log.info("labs.reaped", session=str(live.session_id))
            await self._discard(live, "idle")
        warn = self.limits.warn_before_s
        due = [x for x in self.live.values() if not x.warned and now - x.last_used >= x.warn_at_s(warn)]
        for live in due:
            await self._warn(live, live.idle_limit_s - (now - live.last_used))
        return len(idle)

    def next_reap_s(self) -> float:
        """How long the reaper may sleep: until the next warning or stop falls due, at most
        `reap_every_s` (and at least a tenth of a second)."""
        now = self.monotonic()
        wait = self.limits.reap_every_s
        for live in self.live.values():
            due = live.idle_limit_s if live.warned else live.warn_at_s(self.limits.warn_before_s)
            wait = min(wait, due - (now - live.last_used))
        return max(0.1, wait)

    async def _warn(self, live: Live, stops_in_s: float) -> None:
        """Tell the session's student that it stops in `stops_in_s` unless used."""
        live.warned = True  # before the await: a use meanwhile clears it for the next period
        stops_at = self.bus.ports.clock.now() + timedelta(seconds=max(0.0, stops_in_s))
        ctx = Context(RUNNER_ACTOR, live.org_id, frozenset({LAB_RUNNER}))
        try:
            await self.bus.handle(c.WarnLabExpiry(session_id=live.session_id, stops_at=stops_at), ctx)
        except errors.DomainError as e:  # gone meanwhile: nothing to tell
            log.info("labs.expiry_not_told", session=str(live.session_id), error=str(e))
            return
        except BaseException:  # not told (an outage): the next pass tries again
            live.warned = False
            raise
        log.info("labs.expiring", session=str(live.session_id), stops_in_s=round(stops_in_s, 1))

    # -- requests --------------------------------------------------------------------------

    async def start(self, cmd: c.StartLab, ctx: Context) -> CommandResult:
        """Start a session and its sandbox (waits for a free slot on this host)."""
        claim = (cmd.student_id or ctx.actor_id, ctx.org_id)
        # Checked and claimed with no await in between, so concurrent starts cannot both pass: a
        # start counts against the quotas from here on, while it waits for a slot and opens.
        held = [(x.student_id, x.org_id) for x in self.live.values()] + self._starting
        if sum(1 for student, _ in held if student == claim[0]) >= self.limits.per_student:
            raise errors.LabQuotaExceeded(f"at most {self.limits.per_student} lab sessions per student at once")
        if sum(1 for _, org in held if org == claim[1]) >= self.limits.per_organisation:
            raise errors.LabQuotaExceeded(f"at most {self.limits.per_organisation} lab sessions per organisation")
        self._starting.append(claim)
        try:
            await self._slots.acquire()
            opened = False
            try:
                reply = await self.bus.handle(cmd, ctx)
                await self._open(UUID(reply.id))
                opened = True
            finally:
                if not opened:
                    self._slots.release()
        finally:
            self._starting.remove(claim)
        return reply

    async def _open(self, session_id: UUID) -> Live:
        session = await self.session(session_id)
        assert session.spec is not None and session.student_id is not None and session.org_id is not None
        spec = session.spec
        sandbox_spec = SandboxSpec(
            spec.environment,
            memory_mb=spec.limits.memory_mb,
            cpus=spec.limits.cpus,
            pids=spec.limits.pids,
            network=spec.network,
            labels={LABEL: self.name, SESSION_LABEL: str(session_id)},
        )
        sandbox = ""
        try:
            sandbox = await self.engine.create(f"cw-lab-{session_id}-{session.round}", sandbox_spec)
            if session.files:
                await self.engine.write_files(sandbox, {p: t.encode() for p, t in session.files.items()})
        except EngineError:
            if sandbox:
                await self.engine.remove(sandbox)
            await self._end(session_id, "failed")
            raise
        live = self.live[session_id] = Live(
            session_id, sandbox, session.student_id, session.org_id, spec, self.monotonic()
        )
        self._opened_one.set()
        log.info("labs.started", session=str(session_id), sandbox=sandbox[:12])
        return live

    async def write_files(self, cmd: c.WriteLabFiles, ctx: Context) -> CommandResult:
        live = self._held(cmd.session_id)
        reply = await self.bus.handle(cmd, ctx)
        async with live.lock:
            await self.engine.write_files(live.sandbox_id, {f.path: f.content.encode() for f in cmd.files})
            live.use(self.monotonic())
        return reply

    async def run(self, cmd: c.RunLab, ctx: Context, sink: OutputSink | None = None) -> RunOutcome:
        """Run the lab's command (or the one asked), streaming its capped output to `sink`."""
        live = self._held(cmd.session_id)
        await self.bus.handle(cmd, ctx)  # who may run, and is the session running
        argv = list(cmd.command) if cmd.command else list(live.spec.run_command)
        result = await self._execute(live, argv, sink)
        record = self._record(argv, result)
        reply = await self.bus.handle(c.RecordLabRun(session_id=live.session_id, run=record), self._as_runner(ctx))
        live.outputs.append((record.run_id, result.output))
        return RunOutcome(_run(record, grading=False), result.output, reply)

    async def grade(self, cmd: c.GradeLab, ctx: Context) -> RunOutcome:
        """Copy the hidden tests in, run them, take them out again; a pass completes the lesson.

        The grading output is recorded by its hash only and not shown: it could quote the tests.
        """
        live = self._held(cmd.session_id)
        await self.bus.handle(cmd, ctx)
        hidden = {f.path: f.content.encode() for f in live.spec.grading_files}
        async with live.lock:
            await self.engine.write_files(live.sandbox_id, hidden)
        argv = list(live.spec.grading_command)
        result = await self._execute(live, argv, None)
        async with live.lock:
            if hidden and not result.reset:
                await self.engine.run(live.sandbox_id, ["rm", "-f", "--", *hidden], timeout_s=10, output_cap=1024)
        record = self._record(argv, result)
        reply = await self.bus.handle(c.RecordLabGrade(session_id=live.session_id, run=record), self._as_runner(ctx))
        return RunOutcome(_run(record, grading=True), b"", reply)

    async def pause(self, cmd: c.PauseLab, ctx: Context) -> CommandResult:
        live = self._held(cmd.session_id)
        reply = await self.bus.handle(cmd, ctx)
        await self.engine.pause(live.sandbox_id)
        return reply

    async def resume(self, cmd: c.ResumeLab, ctx: Context) -> CommandResult:
        live = self._held(cmd.session_id)
        reply = await self.bus.handle(cmd, ctx)
        await self.engine.resume(live.sandbox_id)
        live.use(self.monotonic())
        return reply

    async def stop(self, cmd: c.StopLab, ctx: Context) -> CommandResult:
        reply = await self.bus.handle(cmd, ctx)
        live = self.live.get(cmd.session_id)
        if live is not None:
            await self._release(live)
        return reply

    async def _trains(self, session: LabSession, trainer_id: UUID) -> bool:
        """Whether `trainer_id` trains the cohort of the session's enrolment."""
        if session.enrollment_id is None:
            return False
        stored = await self.bus.store.read_stream(session.enrollment_id)
        enrollment = Enrollment.replay(session.enrollment_id, [codec.decode(e.event_type, e.payload) for e in stored])
        if enrollment.cohort_id is None:
            return False
        stored = await self.bus.store.read_stream(enrollment.cohort_id)
        cohort = Cohort.replay(enrollment.cohort_id, [codec.decode(e.event_type, e.payload) for e in stored])
        return cohort.trains(trainer_id)

    async def session(self, session_id: UUID) -> LabSession:
        """The session as stored (for the runner's own use: callers are checked by the bus)."""
        stored = await self.bus.store.read_stream(session_id)
        events = [codec.decode(e.event_type, e.payload) for e in stored]
        return LabSession.replay(session_id, events, stored[-1].position if stored else 0)

    async def view(self, session_id: UUID, ctx: Context) -> c.LabSessionView:
        """The session for its student, the trainers of their cohort and organisation admins
        (else not found)."""
        reach = QUERIES[Query.LAB_SESSION].reach(ctx.roles)
        session = await self.session(session_id)
        mine = session.student_id == ctx.actor_id and session.org_id == ctx.org_id
        visible = reach is Reach.PLATFORM or mine or (reach >= Reach.ORGANISATION and session.org_id == ctx.org_id)
        if visible and not mine and ACTING_FOR.reach(ctx.roles) < Reach.ORGANISATION:
            visible = await self._trains(session, ctx.actor_id)
        if not session.exists or reach is Reach.NONE or not visible:
            raise errors.LabSessionNotFound(f"lab session {session_id} not found")
        assert session.spec is not None and session.course_id and session.lesson_id and session.student_id
        live = self.live.get(session_id)
        outputs = dict(live.outputs) if live else {}
        return c.LabSessionView(
            id=session.id,
            status=session.status,
            round=session.round,
            course_id=session.course_id,
            lesson_id=session.lesson_id,
            student_id=session.student_id,
            environment=session.spec.environment,
            run_command=list(session.spec.run_command),
            files=[LabFile(path=p, content=t) for p, t in sorted(session.files.items())],
            runs=[run_view(r, outputs.get(r.run_id)) for r in session.runs],
            passed=session.passed,
            version=session.version,
        )

    # -- the parts -------------------------------------------------------------------------

    def _held(self, session_id: UUID) -> Live:
        live = self.live.get(session_id)
        if live is None:
            raise errors.LabSessionState(f"lab session {session_id} has no sandbox running on this runner")
        return live

    async def _execute(self, live: Live, argv: list[str], sink: OutputSink | None) -> RunResult:
        limits = live.spec.limits
        async with live.lock:
            try:
                result = await self.engine.run(
                    live.sandbox_id, argv, timeout_s=limits.run_seconds, output_cap=limits.output_bytes, sink=sink
                )
            except SandboxGone:
                await self._discard(live, "failed")
                raise
            if result.reset:  # the sandbox was restarted to end the run: its files again
                session = await self.session(live.session_id)
                await self.engine.write_files(live.sandbox_id, {p: t.encode() for p, t in session.files.items()})
            live.use(self.monotonic())
        return result

    def _record(self, argv: list[str], result: RunResult) -> c.LabRunRecord:
        return c.LabRunRecord(
            run_id=self.bus.ports.ids.new_id(),
            command=argv,
            exit_code=result.exit_code,
            duration_ms=result.duration_ms,
            output_bytes=result.output_bytes,
            output_sha256=hashlib.sha256(result.output).hexdigest(),
            truncated=result.truncated,
            timed_out=result.timed_out,
            at=self.bus.ports.clock.now(),
        )

    def _as_runner(self, ctx: Context) -> Context:
        """The caller's context, with the runner's role for recording what the sandbox did."""
        return dataclasses.replace(ctx, roles=ctx.roles | {LAB_RUNNER}, idempotency_key=None)

    async def _release(self, live: Live) -> None:
        """Remove the sandbox and free its slot (the session's end is recorded by the caller)."""
        if self.live.pop(live.session_id, None) is None:
            return
        try:
            await self.engine.remove(live.sandbox_id)
        finally:
            self._slots.release()

    async def _discard(self, live: Live, reason: c.EndReason) -> None:
        await self._release(live)
        await self._end(live.session_id, reason)

    async def _end(self, session_id: UUID, reason: c.EndReason) -> None:
        session = await self.session(session_id)
        if not session.exists or session.org_id is None:
            return
        ctx = Context(RUNNER_ACTOR, session.org_id, frozenset({LAB_RUNNER}))
        await self.bus.handle(c.EndLab(session_id=session_id, reason=reason), ctx)


def run_view(run: LabRun, output: bytes | None) -> c.LabRunView:
    return c.LabRunView(
        run_id=run.run_id,
        command=[] if run.grading else list(run.command),  # the hidden tests' command is theirs
        exit_code=run.exit_code,
        duration_ms=run.duration_ms,
        output_bytes=run.output_bytes,
        truncated=run.truncated,
        timed_out=run.timed_out,
        grading=run.grading,
        at=run.at,
        output=None if output is None or run.grading else output.decode(errors="replace"),
    )


def _run(record: c.LabRunRecord, *, grading: bool) -> LabRun:
    return LabRun(
        record.run_id,
        tuple(record.command),
        record.exit_code,
        record.duration_ms,
        record.output_bytes,
        record.output_sha256,
        record.truncated,
        record.timed_out,
        grading,
        record.at,
    )
