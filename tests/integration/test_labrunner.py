"""The lab runner on a real Docker engine: a student's session from start to a passing grade,
the host limit, quotas, the idle reaper and the recovery after a runner died."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import UUID

import pytest

from commands import codec
from commands.bus import CommandBus
from commands.routes import ROUTES
from domain import errors
from domain.enrollment import Enrollment, enrollment_id
from domain.lab import LabSession
from infra.eventlog.memory import InMemoryEventStore
from infra.labengine.docker import DockerLabEngine
from infra.labengine.placement import PlacedEngines, engine_urls
from labrunner.runner import LABEL, LabRunner, RunnerLimits
from schemas import commands as c
from schemas import labs as lab
from tests.integration.docker_support import CACHE_DIR, docker_url
from tests.ports import make_ports
from tests.unit.test_lab import OTHER, STUDENT, ctx, published_lab

__all__ = ["docker_url"]

SOLUTION = "def add(a, b):\n    return a + b\n\nprint('sum', add(2, 3))\n"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def engine(docker_url: str) -> AsyncIterator[DockerLabEngine]:
    engine = DockerLabEngine(docker_url, CACHE_DIR)
    yield engine
    await engine.close()


@pytest.fixture
def bus() -> CommandBus:
    return CommandBus(InMemoryEventStore(), ROUTES, make_ports())


@pytest.fixture
async def course(bus: CommandBus) -> tuple[UUID, UUID]:
    course_id, lesson_id = await published_lab(bus)
    for student in (STUDENT, OTHER):
        await bus.handle(c.Enrol(course_id=course_id), ctx(student, "student"))
    return course_id, lesson_id


def runner_for(bus: CommandBus, engine: DockerLabEngine, name: str, **limits: int) -> LabRunner:
    return LabRunner(bus, engine, name=name, limits=RunnerLimits(**limits), monotonic=Clock())


@pytest.fixture
async def runner(request: pytest.FixtureRequest, bus: CommandBus, engine: DockerLabEngine) -> AsyncIterator[LabRunner]:
    runner = runner_for(bus, engine, f"t-{request.node.name[-40:]}")
    yield runner
    await runner.shutdown()


async def test_a_student_runs_and_passes_a_lab(runner: LabRunner, bus: CommandBus, course: tuple[UUID, UUID]) -> None:
    course_id, lesson_id = course
    student = ctx(STUDENT, "student")
    session_id = UUID((await runner.start(lab.StartLab(course_id=course_id, lesson_id=lesson_id), student)).id)

    streamed: list[bytes] = []

    async def sink(data: bytes) -> None:
        streamed.append(data)

    starter = await runner.run(lab.RunLab(session_id=session_id), student, sink)
    assert starter.run.exit_code == 0 and starter.output == b""
    failing = await runner.grade(lab.GradeLab(session_id=session_id), student)
    assert failing.reply.data["passed"] is False and failing.output == b""

    await runner.write_files(
        lab.WriteLabFiles(session_id=session_id, files=[c.LabFile(path="main.py", content=SOLUTION)]), student
    )
    ran = await runner.run(lab.RunLab(session_id=session_id), student, sink)
    assert ran.output == b"sum 5\n" and b"".join(streamed) == b"sum 5\n"
    passing = await runner.grade(lab.GradeLab(session_id=session_id), student)
    assert passing.reply.data["passed"] is True and passing.reply.data["lesson_completed"] is True

    # The hidden tests left the sandbox with the grading run.
    sandbox = runner.live[session_id].sandbox_id
    assert await runner.engine.read_files(sandbox, ["grade.py", "main.py"]) == {"main.py": SOLUTION.encode()}
    session = await runner.session(session_id)
    assert [r.exit_code for r in session.runs] == [0, 1, 0, 0] and session.passed
    stored = await bus.store.read_stream(enrollment_id(course_id, STUDENT))
    enrollment = Enrollment.replay(stored[0].stream_id, [codec.decode(e.event_type, e.payload) for e in stored])
    assert lesson_id in enrollment.completed_lessons

    await runner.pause(lab.PauseLab(session_id=session_id), student)
    with pytest.raises(errors.LabSessionState):
        await runner.run(lab.RunLab(session_id=session_id), student)
    await runner.resume(lab.ResumeLab(session_id=session_id), student)
    await runner.stop(lab.StopLab(session_id=session_id), student)
    assert await runner.engine.sandboxes({LABEL: runner.name}) == {}
    assert (await runner.session(session_id)).status == "stopped"


async def test_starts_past_the_host_limit_wait_for_a_free_slot(
    bus: CommandBus, engine: DockerLabEngine, course: tuple[UUID, UUID]
) -> None:
    course_id, lesson_id = course
    runner = runner_for(bus, engine, "t-host-limit", max_sessions=1)
    try:
        first = await runner.start(lab.StartLab(course_id=course_id, lesson_id=lesson_id), ctx(STUDENT, "student"))
        second = asyncio.create_task(
            runner.start(lab.StartLab(course_id=course_id, lesson_id=lesson_id), ctx(OTHER, "student"))
        )
        await runner.run(lab.RunLab(session_id=UUID(first.id)), ctx(STUDENT, "student"))
        assert not second.done() and len(runner.live) == 1
        await runner.stop(lab.StopLab(session_id=UUID(first.id)), ctx(STUDENT, "student"))
        started = await second
        assert list(runner.live) == [UUID(started.id)]
    finally:
        await runner.shutdown()


async def test_an_organisation_over_its_quota_is_refused(
    bus: CommandBus, engine: DockerLabEngine, course: tuple[UUID, UUID]
) -> None:
    course_id, lesson_id = course
    runner = runner_for(bus, engine, "t-quota", per_organisation=1)
    try:
        await runner.start(lab.StartLab(course_id=course_id, lesson_id=lesson_id), ctx(STUDENT, "student"))
        with pytest.raises(errors.LabQuotaExceeded):
            await runner.start(lab.StartLab(course_id=course_id, lesson_id=lesson_id), ctx(OTHER, "student"))
    finally:
        await runner.shutdown()


async def test_idle_sessions_are_reaped(runner: LabRunner, course: tuple[UUID, UUID]) -> None:
    course_id, lesson_id = course
    reply = await runner.start(lab.StartLab(course_id=course_id, lesson_id=lesson_id), ctx(STUDENT, "student"))
    clock = runner.monotonic
    assert isinstance(clock, Clock)
    clock.now += 14 * 60
    assert await runner.reap() == 0
    clock.now += 2 * 60  # past the lab's 15 idle minutes
    assert await runner.reap() == 1
    assert (await runner.session(UUID(reply.id))).status == "stopped"
    assert await runner.engine.sandboxes({LABEL: runner.name}) == {}


async def test_an_idle_session_is_told_before_it_is_reaped_once_per_idle_period(
    bus: CommandBus, engine: DockerLabEngine, course: tuple[UUID, UUID]
) -> None:
    """Two minutes before the lab's 15 idle minutes the reaper records LabSessionExpiring (once,
    however often it passes), and wakes for the stop; a run starts a new idle period, told
    again; past the limit the session stops."""
    course_id, lesson_id = course
    runner = LabRunner(
        bus, engine, name="t-expiring", limits=RunnerLimits(reap_every_s=600, warn_before_s=120), monotonic=Clock()
    )
    clock = runner.monotonic
    assert isinstance(clock, Clock)
    student = ctx(STUDENT, "student")
    try:
        reply = await runner.start(lab.StartLab(course_id=course_id, lesson_id=lesson_id), student)
        session_id = UUID(reply.id)

        async def told() -> list[str]:
            return [e.event_type for e in await bus.store.read_stream(session_id)]

        clock.now += 12 * 60
        assert runner.next_reap_s() == 60  # the warning falls due at 13 minutes
        assert await runner.reap() == 0 and "LabSessionExpiring" not in await told()
        clock.now += 90
        assert await runner.reap() == 0 and runner.next_reap_s() == 90  # then the stop, at 15
        clock.now += 30
        assert await runner.reap() == 0
        assert (await told()).count("LabSessionExpiring") == 1
        (expiring,) = [
            codec.decode(e.event_type, e.payload)
            for e in await bus.store.read_stream(session_id)
            if e.event_type == "LabSessionExpiring"
        ]
        assert isinstance(expiring, LabSession.Expiring)
        assert (expiring.stops_at - expiring.at).total_seconds() == pytest.approx(90, abs=5)

        ran = await runner.run(lab.RunLab(session_id=session_id, command=["true"]), student)
        assert ran.run.exit_code == 0 and not runner.live[session_id].warned
        clock.now += 13 * 60 + 1
        assert await runner.reap() == 0
        clock.now += 2 * 60
        assert await runner.reap() == 1
        assert await told() == [
            "LabSessionStarted",
            "LabSessionExpiring",
            "LabSessionRan",
            "LabSessionExpiring",
            "LabSessionStopped",
        ]
        assert (await runner.session(session_id)).status == "stopped"
        assert await runner.engine.sandboxes({LABEL: runner.name}) == {}
    finally:
        await runner.shutdown()


async def test_a_runner_that_died_leaves_no_sandbox_after_restart(
    bus: CommandBus, engine: DockerLabEngine, course: tuple[UUID, UUID]
) -> None:
    course_id, lesson_id = course
    dead = runner_for(bus, engine, "t-recover")
    reply = await dead.start(lab.StartLab(course_id=course_id, lesson_id=lesson_id), ctx(STUDENT, "student"))
    # The first runner is gone without a word; the next one of that name cleans up.
    successor = runner_for(bus, engine, "t-recover")
    assert await successor.recover() == 1
    assert await engine.sandboxes({LABEL: "t-recover"}) == {}
    session = await successor.session(UUID(reply.id))
    assert session.status == "stopped"


async def test_concurrent_starts_never_exceed_a_quota(
    bus: CommandBus, engine: DockerLabEngine, course: tuple[UUID, UUID]
) -> None:
    """Two students of one organisation start at once against a quota of one: one is refused
    (both used to pass the check before either sandbox was up)."""
    course_id, lesson_id = course
    runner = runner_for(bus, engine, "t-quota-race", per_organisation=1)
    try:
        starts = [
            runner.start(lab.StartLab(course_id=course_id, lesson_id=lesson_id), ctx(who, "student"))
            for who in (STUDENT, OTHER)
        ]
        outcomes = await asyncio.gather(*starts, return_exceptions=True)
        refused = [o for o in outcomes if isinstance(o, errors.LabQuotaExceeded)]
        assert len(refused) == 1 and len(runner.live) == 1, outcomes
        # The refused start left no claim behind: once the first stops, the other may start.
        (started,) = [o for o in outcomes if not isinstance(o, BaseException)]
        (first,) = [who for who, o in zip((STUDENT, OTHER), outcomes, strict=True) if o is started]
        await runner.stop(lab.StopLab(session_id=UUID(started.id)), ctx(first, "student"))
        second = OTHER if first == STUDENT else STUDENT
        await runner.start(lab.StartLab(course_id=course_id, lesson_id=lesson_id), ctx(second, "student"))
        assert len(runner.live) == 1
    finally:
        await runner.shutdown()


async def test_sessions_are_placed_across_engines_and_a_dead_one_is_passed_over(
    bus: CommandBus, docker_url: str, course: tuple[UUID, UUID], tmp_path: Path
) -> None:
    """CW_DOCKER_URL lists several engines: each new sandbox goes to the least loaded that takes
    it, and every later request to the one that holds it. (Two clients of the run's engine stand
    for two engines here, and a socket nobody listens on for one that is down.)"""
    course_id, lesson_id = course
    engines = [DockerLabEngine(url, CACHE_DIR) for url in (docker_url, docker_url)]
    dead = DockerLabEngine(f"unix://{tmp_path}/nobody.sock", CACHE_DIR)
    placed = PlacedEngines([dead, *engines])
    runner = LabRunner(bus, placed, name="t-placement", limits=RunnerLimits(), monotonic=Clock())
    try:
        assert await placed.ping()
        await runner.open()
        replies = [
            await runner.start(lab.StartLab(course_id=course_id, lesson_id=lesson_id), ctx(who, "student"))
            for who in (STUDENT, OTHER)
        ]
        where = sorted(live.sandbox_id.split("/")[0] for live in runner.live.values())
        assert where == ["1", "2"]  # one each, none on the dead engine
        for who, reply in zip((STUDENT, OTHER), replies, strict=True):
            outcome = await runner.run(
                lab.RunLab(session_id=UUID(reply.id), command=["python3", "-c", "print(6 * 7)"]), ctx(who, "student")
            )
            assert outcome.output == b"42\n"
        held = await placed.sandboxes({LABEL: "t-placement"})
        assert {live.sandbox_id for live in runner.live.values()} <= set(held)
    finally:
        await runner.shutdown()
        await placed.close()
    assert placed.held == [set(), set(), set()]
    assert engine_urls(" unix:///a.sock, tcp://10.0.0.2:2375 ") == ["unix:///a.sock", "tcp://10.0.0.2:2375"]
    assert engine_urls(None) == [None]
