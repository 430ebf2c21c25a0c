"""The fault run as a test: `coursewright up` on the real servers under steady HTTP commands,
each component's process SIGKILLed in turn. Every process comes back, every acknowledged command
is in the store exactly once, and once the load stops every read model equals a rebuild."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import psycopg

from commands.context import Context
from gateway.app import authenticator
from gateway.bootstrap import Root
from infra.eventlog.postgres import PostgresEventStore
from infra.settings import Settings
from schemas import commands as c
from schemas import identity as i
from tests.conftest import S3Server, delete_event_streams, make_settings
from tests.integration.projections_support import caught_up, equals_rebuild, wait_until
from tests.integration.up_support import START_TIMEOUT, component_processes, coursewright_command, free_port

LEARNERS = 6  # concurrent clients enrolling students
AUTHORS = 2  # concurrent clients adding modules, each to a draft course of its own
ACKS_BETWEEN_KILLS = 40  # acknowledged commands before and after each kill


@dataclass
class Fixture:
    """A published course, drafts, and tokens: a trainer per learner client, an instructor."""

    course: str
    drafts: list[str]
    trainers: list[str]
    instructor: str


@dataclass
class Load:
    """What the clients sent and which commands were acknowledged (a 2xx answer)."""

    enrolled: list[str] = field(default_factory=list)  # student ids
    modules: list[str] = field(default_factory=list)  # module titles
    statuses: dict[int, int] = field(default_factory=dict)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def acked(self) -> int:
        return len(self.enrolled) + len(self.modules)


async def _fixture(settings: Settings) -> Fixture:
    async with Root(settings) as root:
        services = root.services()
        bus, org = services.bus, uuid.uuid4()
        system = Context(uuid.UUID(int=1), org, frozenset({"platform_admin"}))
        await bus.handle(i.CreateOrganisation(org_id=org, name="Faults"), system)
        auth = authenticator(services)

        async def signed_in(role: str) -> tuple[uuid.UUID, str]:
            anyone = Context(uuid.uuid4(), uuid.UUID(int=0), frozenset({"anyone"}))
            email = f"{role}-{uuid.uuid4().hex[:10]}@example.com"
            reply = await bus.handle(i.RegisterUser(email=email, password="fault run pass 1", name="F"), anyone)
            user = uuid.UUID(reply.id)
            await bus.handle(i.AddMember(org_id=org, email=email, roles=[role]), system)
            _, family = await auth.refresh.issue(user, org)
            return user, auth.access.issue(user, org, [role], email, family)

        author_id, instructor = await signed_in("instructor")  # the drafts are theirs to change
        author = Context(author_id, org, frozenset({"instructor"}))
        manager = Context(uuid.uuid4(), org, frozenset({"course_manager"}))

        async def draft(title: str) -> uuid.UUID:
            course = uuid.UUID(
                (await bus.handle(c.CreateCourse(title=title, cefr_level="B1", category="x"), author)).id
            )
            module = (await bus.handle(c.AddModule(course_id=course, title=f"Basics of {title}"), author)).data[
                "module_id"
            ]
            lesson = (
                await bus.handle(c.AddLesson(course_id=course, module_id=uuid.UUID(module), title="Checks"), author)
            ).data["lesson_id"]
            content = c.LessonContent(objectives=["Inspect the forks"])
            await bus.handle(c.SetLessonContent(course_id=course, lesson_id=uuid.UUID(lesson), content=content), author)
            return course

        course = await draft("Forklifts")
        review = (await bus.handle(c.SubmitCourse(course_id=course), author)).data["review_id"]
        await bus.handle(c.ApproveCourse(review_id=uuid.UUID(review)), manager)
        await bus.handle(c.PublishCourse(course_id=course), manager)
        drafts = [str(await draft(f"Draft {n}")) for n in range(AUTHORS)]

        trainers = [(await signed_in("trainer"))[1] for _ in range(LEARNERS)]
        return Fixture(str(course), drafts, trainers, instructor)


async def _send(client: httpx.AsyncClient, load: Load, path: str, body: dict[str, str], token: str) -> bool:
    """One command, tried again with the same Idempotency-Key until it is answered (a killed
    gateway worker drops its connections; a client that retries must not double it)."""
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())}
    while True:
        try:
            response = await client.post(path, json=body, headers=headers)
        except httpx.TransportError:
            await asyncio.sleep(0.05)
            continue
        load.statuses[response.status_code] = load.statuses.get(response.status_code, 0) + 1
        if response.status_code >= 500 or response.status_code == 429:
            await asyncio.sleep(0.05)
            continue
        return response.is_success


async def _learner(base: str, fixture: Fixture, token: str, load: Load) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        while not load.stop.is_set():
            student = str(uuid.uuid4())
            path = f"/courses/{fixture.course}/enrollments"
            if await _send(client, load, path, {"student_id": student}, token):
                load.enrolled.append(student)


async def _author(base: str, fixture: Fixture, draft: str, load: Load) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        while not load.stop.is_set():
            title = f"Module {uuid.uuid4().hex}"
            if await _send(client, load, f"/courses/{draft}/modules", {"title": title}, fixture.instructor):
                load.modules.append(title)


@contextlib.asynccontextmanager
async def _up(settings: Settings, log: Path) -> AsyncIterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CW_")}
    env |= settings.environment() | {"CW_HTTP_WORKERS": "2", "CW_LOG_LEVEL": "WARNING", "CW_LOG_JSON": "true"}
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: ASYNC220 (spawning is instant)
            [*coursewright_command(), "up"], cwd=log.parent, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def _answers(url: str) -> bool:
    with contextlib.suppress(httpx.TransportError):
        async with httpx.AsyncClient(timeout=5) as client:
            return (await client.get(url)).status_code == 200
    return False


async def _count(dsn: str, event_type: str, key: str) -> dict[str, int]:
    """How many stored events of `event_type` carry each value of payload field `key`."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT payload->>%s, count(*) FROM cw_events WHERE event_type = %s GROUP BY 1", [key, event_type]
        )
        return {str(value): int(n) for value, n in await cur.fetchall()}


async def test_sigkill_of_each_component_under_load_loses_and_doubles_nothing(
    fresh_database: str, s3_server: S3Server, tmp_path: Path
) -> None:
    settings = make_settings(
        fresh_database,
        rate_limit_per_minute=1_000_000,
        http_port=free_port(),
        data_dir=tmp_path / "data",
        **s3_server.settings(),
    )
    try:
        fixture = await _fixture(settings)
        base = f"http://127.0.0.1:{settings.http_port}"
        load = Load()
        async with _up(settings, tmp_path / "up.log") as proc:
            await wait_until(
                lambda: _answers(f"{base}/ready"), within=START_TIMEOUT, what="coursewright up to be ready"
            )
            clients = [asyncio.create_task(_learner(base, fixture, t, load)) for t in fixture.trainers]
            clients += [asyncio.create_task(_author(base, fixture, d, load)) for d in fixture.drafts]
            try:
                for name in ("gateway", "relay", "projectors"):
                    goal = load.acked + ACKS_BETWEEN_KILLS
                    await wait_until(lambda g=goal: _reached(load, g), within=60, what=f"load before killing {name}")
                    members = component_processes(proc)[name]
                    victim = members[0]
                    victim.kill()
                    await wait_until(
                        lambda n=name, v=victim, k=members: _restarted(proc, n, v, len(k)),  # type: ignore[misc]
                        within=60,
                        what=f"{name} to be started again",
                    )
                    goal = load.acked + ACKS_BETWEEN_KILLS
                    await wait_until(lambda g=goal: _reached(load, g), within=60, what=f"load after killing {name}")
            finally:
                load.stop.set()
                await asyncio.gather(*clients)
            assert proc.poll() is None, (tmp_path / "up.log").read_text()

            # Every acknowledged command is stored once; nothing the clients sent is doubled.
            enrolled = await _count(settings.pg_dsn, "EnrollmentEnrolled", "student_id")
            added = await _count(settings.pg_dsn, "CourseModuleAdded", "title")
            assert all(enrolled.get(s) == 1 for s in load.enrolled), "an acknowledged enrolment is missing"
            assert all(added.get(t) == 1 for t in load.modules), "an acknowledged module is missing"
            assert max(enrolled.values()) == 1 and max(added.values()) == 1, "a command was applied twice"
            assert load.enrolled and load.modules, load.statuses

            # Once the load stops, the restarted relay and projectors catch up: rebuild-equal.
            store = PostgresEventStore(settings.pg_dsn)
            await store.start()
            try:
                await wait_until(lambda: caught_up(store, settings.pg_dsn), within=60, what="projectors to catch up")
            finally:
                await store.close()
        # The load places no orders and completes no course.
        await equals_rebuild(settings.pg_dsn, untouched={"orders", "certificates"})
    finally:
        await delete_event_streams(settings)


async def _reached(load: Load, goal: int) -> bool:
    return load.acked >= goal


async def _restarted(proc: subprocess.Popen[bytes], name: str, victim: psutil.Process, count: int) -> bool:
    """The killed process is gone and `up` runs as many of the component as before."""
    members = [p for p in component_processes(proc).get(name, []) if _alive(p)]
    return len(members) == count and victim.pid not in {p.pid for p in members}


def _alive(process: psutil.Process) -> bool:
    with contextlib.suppress(psutil.NoSuchProcess):
        return process.status() != psutil.STATUS_ZOMBIE
    return False
