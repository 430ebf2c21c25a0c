"""Shared by the projection tests: a scenario of commands, the relay, bounded waits, dumps."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from datetime import date, timedelta
from typing import Any

import psycopg

from commands.bus import CommandBus
from commands.context import Context
from commands.routes import ROUTES
from infra.cache import Cache
from infra.eventlog.postgres import PostgresEventStore
from infra.nats import NatsConnector
from infra.settings import Settings
from projections.rebuild import rebuild
from projections.registry import PROJECTIONS
from projections.workers import run_projectors
from schemas import commands as c
from schemas import orders as o
from schemas.certificates import IssueCertificate
from schemas.roles import Role
from tests.ports import make_ports

QUIZ = c.Assessment(
    id="q1",
    title="Check",
    questions=[
        c.Question(id="a", prompt="Forks?", options=["ok", "cracked"], correct=[0]),
        c.Question(id="b", prompt="Chains?", options=["ok", "worn"], correct=[0]),
    ],
    pass_mark=1.0,
)
CONTENT = c.LessonContent(
    objectives=["Inspect the forks before every shift"],
    materials=[c.Material(kind="text", title="Forks", body="Look for cracks at the heel.")],
    assessments=[QUIZ],
)
TEXT_ONLY = c.LessonContent(materials=[c.Material(kind="text", title="Read", body="Secret body")])


async def wait_until(check: Callable[[], Awaitable[bool]], *, within: float = 30.0, what: str = "condition") -> None:
    """Poll `check` until true; fail the test after `within` seconds (a bound, not a timing)."""
    deadline = time.monotonic() + within
    pause = 0.01
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {within}s")
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.2)


class World:
    """One organisation with an author, a manager and helpers that run command scenarios."""

    def __init__(self, bus: CommandBus, org: uuid.UUID | None = None) -> None:
        self.bus = bus
        self.org = org or uuid.uuid4()
        self.author = self.ctx("instructor")
        self.manager = self.ctx("course_manager")

    def ctx(self, *roles: Role, actor: uuid.UUID | None = None, org: uuid.UUID | None = None) -> Context:
        return Context(actor or uuid.uuid4(), org or self.org, frozenset(roles))

    async def draft(self, title: str = "Forklifts", lessons: int = 2, **details: Any) -> dict[str, Any]:
        """A course with one module per lesson, each lesson with content: ids and last position."""
        details.setdefault("cefr_level", "B1")
        details.setdefault("category", "safety")
        r = await self.bus.handle(c.CreateCourse(title=title, **details), self.author)
        course = uuid.UUID(r.id)
        modules, lesson_ids = [], []
        for i in range(lessons):
            m = await self.bus.handle(c.AddModule(course_id=course, title=f"Module {i}"), self.author)
            module = uuid.UUID(m.data["module_id"])
            lr = await self.bus.handle(
                c.AddLesson(course_id=course, module_id=module, title=f"Lesson {i}"), self.author
            )
            lesson = uuid.UUID(lr.data["lesson_id"])
            r = await self.bus.handle(
                c.SetLessonContent(course_id=course, lesson_id=lesson, content=CONTENT if i == 0 else TEXT_ONLY),
                self.author,
            )
            modules.append(module)
            lesson_ids.append(lesson)
        return {"course": course, "modules": modules, "lessons": lesson_ids, "position": r.position}

    async def publish(self, course: uuid.UUID) -> int:
        sub = await self.bus.handle(c.SubmitCourse(course_id=course), self.author)
        await self.bus.handle(c.ApproveCourse(review_id=uuid.UUID(sub.data["review_id"])), self.manager)
        r = await self.bus.handle(c.PublishCourse(course_id=course), self.manager)
        return r.position

    async def published(self, title: str = "Forklifts", **details: Any) -> dict[str, Any]:
        course = await self.draft(title, **details)
        course["position"] = await self.publish(course["course"])
        return course

    async def learn(self, course: dict[str, Any], student: Context, *, finish: bool) -> int:
        """Enrol, fail the quiz once, pass it, and finish the course when `finish`."""
        cid, lessons = course["course"], course["lessons"]
        r = await self.bus.handle(c.Enrol(course_id=cid), student)
        r = await self.bus.handle(
            c.SubmitQuiz(course_id=cid, lesson_id=lessons[0], assessment_id="q1", answers={"a": [1]}),
            student,
        )
        r = await self.bus.handle(
            c.SubmitQuiz(
                course_id=cid,
                lesson_id=lessons[0],
                assessment_id="q1",
                answers={"a": [0], "b": [0]},
            ),
            student,
        )
        if finish:
            for lesson in lessons[1:]:
                r = await self.bus.handle(c.CompleteLesson(course_id=cid, lesson_id=lesson), student)
            # The certifier's command, as it would send it for this completion.
            platform = self.ctx("platform_admin", org=student.org_id)
            issue = IssueCertificate(enrollment_id=uuid.UUID(r.id), completion=r.version)
            r = await self.bus.handle(issue, platform)
        return r.position


async def scenario(world: World, *, courses: int = 2, students: int = 3) -> int:
    """A small realistic history: published courses, learners finishing, dropping, a rejection."""
    position = 0
    made = [await world.published(f"Course {i}", tags=["forklift", f"t{i}"]) for i in range(courses)]
    for i in range(students):
        s = world.ctx("student")
        position = await world.learn(made[i % len(made)], s, finish=i % 3 != 2)
        if i % 3 == 2:
            r = await world.bus.handle(c.DropEnrollment(course_id=made[i % len(made)]["course"], reason="busy"), s)
            position = r.position
    draft = await world.draft("Rejected one")
    sub = await world.bus.handle(c.SubmitCourse(course_id=draft["course"]), world.author)
    r = await world.bus.handle(
        c.RejectCourse(review_id=uuid.UUID(sub.data["review_id"]), feedback="needs pictures"),
        world.manager,
    )
    return max(position, r.position, await order_scenario(world))


async def order_scenario(world: World) -> int:
    """An order placed by sales with one SOP document, accepted for generation; its position."""
    sales = world.ctx("sales")
    placed = await world.bus.handle(
        o.PlaceOrder(
            client="Acme Logistics",
            title="Forklift safety",
            cefr_level="B1",
            job_role="warehouse operator",
            industry="logistics",
            language="pl",
            learners=12,
            wanted_by=date.today() + timedelta(days=30),
        ),
        sales,
    )
    order = uuid.UUID(placed.id)
    await world.bus.handle(o.AddDocument(order_id=order, name="sop.md", content=b"# SOP\n\nCheck the forks.\n"), sales)
    return (await world.bus.handle(o.AcceptDocuments(order_id=order), sales)).position


@contextlib.asynccontextmanager
async def relay(settings: Settings) -> AsyncIterator[None]:
    """The real relay publishing the log to the test's private stream while the block runs."""
    from infra.relay import Relay

    task = asyncio.create_task(Relay(settings, NatsConnector(settings)).run())
    try:
        yield
    finally:
        await _stop(task, "relay")


@contextlib.asynccontextmanager
async def projectors(settings: Settings, *names: str, cache: Cache | None = None) -> AsyncIterator[None]:
    """The real projectors (all, or the named ones) while the block runs; they invalidate `cache`."""
    task = asyncio.create_task(run_projectors(settings, NatsConnector(settings), cache, list(names) or None))
    try:
        yield
    finally:
        await _stop(task, "projectors")


async def _stop(task: asyncio.Task[None], what: str) -> None:
    """Cancel a background component; fail loudly (not hang) if it does not stop in 30 s."""
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=30)
    if not done:
        for other in asyncio.all_tasks():  # where it hangs, for whoever reads the failure
            other.print_stack(limit=6)
    assert done, f"the {what} did not stop within 30s of being cancelled"
    with contextlib.suppress(asyncio.CancelledError):
        task.result()


async def checkpoint(dsn: str, name: str) -> int:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        try:
            cur = await conn.execute(f"SELECT position FROM rm_{name}.checkpoint")
        except psycopg.errors.UndefinedTable:
            return -1
        row = await cur.fetchone()
        return int(row[0]) if row else -1


async def caught_up(store: PostgresEventStore, dsn: str, *names: str) -> bool:
    head = await store.head()
    for name in names or tuple(PROJECTIONS):
        if await checkpoint(dsn, name) < head:
            return False
    return True


async def dump(dsn: str, schema: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every read-model table of `schema` (the checkpoint aside), in key order."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s"
            " AND table_name <> 'checkpoint' ORDER BY table_name",
            [schema],
        )
        for (table,) in await cur.fetchall():
            rows = await conn.execute(f'SELECT * FROM "{schema}"."{table}"')
            out[table] = sorted((tuple(r) for r in await rows.fetchall()), key=repr)
    return out


def bus_on(store: PostgresEventStore) -> CommandBus:
    return CommandBus(store, ROUTES, make_ports())


async def equals_rebuild(dsn: str, untouched: Collection[str] = ()) -> None:
    """Every read model equals a rebuild from scratch of the same log, row for row; each must
    hold rows (else the comparison proves nothing) but those the caller's traffic never feeds."""
    for name, projection in PROJECTIONS.items():
        target = f"cmp_{name}"
        await rebuild(dsn, projection, target=target)
        live, fresh = await dump(dsn, projection.schema()), await dump(dsn, target)
        assert live.keys() == fresh.keys()
        for table in live:
            assert live[table] == fresh[table], f"{name}.{table} differs from a rebuild"
        assert name in untouched or any(live.values()), f"{name} is empty: the test proves nothing"
