"""Command handlers end to end on the real event store."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import psycopg
import pytest

from commands.bus import CommandBus
from commands.context import Context
from commands.errors import PermissionDenied, TooMuchContention
from commands.routes import ROUTES
from domain import errors
from domain.enrollment import enrollment_id
from domain.seats import seats_id
from infra.eventlog.memory import InMemoryEventStore
from infra.eventlog.postgres import PostgresEventStore
from schemas import commands as c
from schemas.results import CommandResult
from schemas.roles import Role
from tests.ports import make_ports

CONTENT = c.LessonContent(
    objectives=["Inspect the forks before every shift"],
    assessments=[
        c.Assessment(
            id="q1",
            title="Check",
            questions=[c.Question(id="a", prompt="Forks?", options=["ok", "cracked"], correct=[0])],
            pass_mark=1.0,
        )
    ],
)


class World:
    def __init__(self, bus: CommandBus) -> None:
        self.bus = bus
        self.org = uuid.uuid4()
        self.author = self.ctx("instructor")
        self.manager = self.ctx("course_manager")

    def ctx(
        self, *roles: Role, actor: uuid.UUID | None = None, org: uuid.UUID | None = None, key: str | None = None
    ) -> Context:
        return Context(actor or uuid.uuid4(), org or self.org, frozenset(roles), idempotency_key=key)

    async def published_course(self, capacity: int | None = None, **details: Any) -> tuple[uuid.UUID, uuid.UUID]:
        """A published course with one module and one lesson with content: (course, lesson)."""
        r = await self.bus.handle(
            c.CreateCourse(title="Forklifts", cefr_level="B1", category="safety", capacity=capacity, **details),
            self.author,
        )
        course = uuid.UUID(r.id)
        m = await self.bus.handle(c.AddModule(course_id=course, title="Basics"), self.author)
        lr = await self.bus.handle(
            c.AddLesson(course_id=course, module_id=uuid.UUID(m.data["module_id"]), title="Checks"), self.author
        )
        lesson = uuid.UUID(lr.data["lesson_id"])
        await self.bus.handle(c.SetLessonContent(course_id=course, lesson_id=lesson, content=CONTENT), self.author)
        await self.publish(course)
        return course, lesson

    async def publish(self, course: uuid.UUID) -> None:
        """Submit, approve and publish the course's current draft."""
        sub = await self.bus.handle(c.SubmitCourse(course_id=course), self.author)
        await self.bus.handle(c.ApproveCourse(review_id=uuid.UUID(sub.data["review_id"])), self.manager)
        await self.bus.handle(c.PublishCourse(course_id=course), self.manager)


@pytest.fixture
async def world(store: PostgresEventStore) -> World:
    return World(CommandBus(store, ROUTES, make_ports()))


async def test_fifty_concurrent_enrolments_on_ten_seats_give_exactly_ten(
    world: World, store: PostgresEventStore
) -> None:
    course, _ = await world.published_course(capacity=10)
    students = [world.ctx("student") for _ in range(50)]
    results = await asyncio.gather(
        *(world.bus.handle(c.Enrol(course_id=course), s) for s in students), return_exceptions=True
    )
    ok = [r for r in results if not isinstance(r, BaseException)]
    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(ok) == 10
    assert all(isinstance(f, errors.CourseFull | TooMuchContention) for f in failed), failed
    seats = await store.read_stream(seats_id(course))
    assert sum(e.event_type == "CourseSeatsTaken" for e in seats) == 10
    enrolled = await store.read_streams(enrollment_id(course, s.actor_id) for s in students)
    assert sum(1 for events in enrolled.values() if events) == 10


async def test_retried_command_with_same_key_adds_no_event(world: World, store: PostgresEventStore) -> None:
    course, _ = await world.published_course()
    student = uuid.uuid4()
    key = str(uuid.uuid4())
    first = await world.bus.handle(c.Enrol(course_id=course), world.ctx("student", actor=student, key=key))
    head = await store.head()
    again = await world.bus.handle(c.Enrol(course_id=course), world.ctx("student", actor=student, key=key))
    assert again.replayed and (again.id, again.version, again.position) == (first.id, first.version, first.position)
    assert await store.head() == head
    # Without the key the same enrolment is a conflict, not a second enrolment.
    with pytest.raises(errors.AlreadyEnrolled):
        await world.bus.handle(c.Enrol(course_id=course), world.ctx("student", actor=student))


async def test_idempotency_survives_a_restart(world: World, database: str) -> None:
    course, _ = await world.published_course()
    student, key = uuid.uuid4(), str(uuid.uuid4())
    first = await world.bus.handle(c.Enrol(course_id=course), world.ctx("student", actor=student, key=key))
    other = PostgresEventStore(database)
    await other.start()
    try:
        again = await CommandBus(other, ROUTES, make_ports()).handle(
            c.Enrol(course_id=course), world.ctx("student", actor=student, key=key)
        )
    finally:
        await other.close()
    assert again.replayed and again.position == first.position


async def test_concurrent_same_key_commands_apply_once(world: World, store: PostgresEventStore) -> None:
    course, _ = await world.published_course()
    student, key = uuid.uuid4(), str(uuid.uuid4())
    results = await asyncio.gather(
        *(world.bus.handle(c.Enrol(course_id=course), world.ctx("student", actor=student, key=key)) for _ in range(8))
    )
    assert len({(r.id, r.position) for r in results}) == 1
    events = await store.read_stream(enrollment_id(course, student))
    assert [e.event_type for e in events] == ["EnrollmentEnrolled"]


async def test_learning_to_completion_with_quiz(world: World) -> None:
    course, lesson = await world.published_course()
    student = world.ctx("student")
    await world.bus.handle(c.Enrol(course_id=course), student)
    failed = await world.bus.handle(
        c.SubmitQuiz(course_id=course, lesson_id=lesson, assessment_id="q1", answers={"a": [1]}), student
    )
    assert failed.data["attempt"]["passed"] is False and failed.data["progress"] == 0
    passed = await world.bus.handle(
        c.SubmitQuiz(course_id=course, lesson_id=lesson, assessment_id="q1", answers={"a": [0]}), student
    )
    assert passed.data["attempt"]["attempt"] == 2 and passed.data["progress"] == 100
    again = await world.bus.handle(c.CompleteLesson(course_id=course, lesson_id=lesson), student)
    assert again.data["changed"] is False and again.version == passed.version


def quiz_answered(correct: int) -> c.LessonContent:
    """CONTENT with the one question's right answer at option `correct`."""
    question = msgspec.structs.replace(CONTENT.assessments[0].questions[0], correct=[correct])
    return c.LessonContent(
        objectives=CONTENT.objectives,
        assessments=[msgspec.structs.replace(CONTENT.assessments[0], questions=[question])],
    )


@pytest.fixture(params=["memory", "postgres"])
def any_world(request: pytest.FixtureRequest) -> World:
    """A world on the in-memory store and on PostgreSQL: the same bus, the same handlers."""
    store = InMemoryEventStore() if request.param == "memory" else request.getfixturevalue("store")
    return World(CommandBus(store, ROUTES, make_ports()))


async def test_quizzes_and_lessons_are_those_of_the_revision_enrolled_in(any_world: World) -> None:
    world = any_world

    async def author(command: Any) -> CommandResult:
        return await world.bus.handle(command, world.author)

    course, removed = await world.published_course()  # 0.1: one lesson, its quiz answered by option 0
    early = world.ctx("student")
    await world.bus.handle(c.Enrol(course_id=course), early)

    # 0.2 drops the lesson and adds one whose quiz is answered by option 1; a 0.3 draft changes it again.
    await author(c.StartRevision(course_id=course))
    module = uuid.UUID((await author(c.AddModule(course_id=course, title="Other"))).data["module_id"])
    await author(c.RemoveLesson(course_id=course, lesson_id=removed))
    lesson = uuid.UUID((await author(c.AddLesson(course_id=course, module_id=module, title="New"))).data["lesson_id"])
    await author(c.SetLessonContent(course_id=course, lesson_id=lesson, content=quiz_answered(1)))
    await world.publish(course)
    await author(c.StartRevision(course_id=course))
    await author(c.SetLessonContent(course_id=course, lesson_id=lesson, content=quiz_answered(0)))
    late = world.ctx("student")
    await world.bus.handle(c.Enrol(course_id=course), late)

    # Enrolled in 0.1: the removed lesson's quiz is graded as 0.1 set it; 0.2's lesson is not theirs.
    with pytest.raises(errors.LessonNotFound):
        await world.bus.handle(c.SubmitQuiz(course_id=course, lesson_id=lesson, assessment_id="q1", answers={}), early)
    with pytest.raises(errors.LessonNotFound):
        await world.bus.handle(c.CompleteLesson(course_id=course, lesson_id=lesson), early)
    passed = await world.bus.handle(
        c.SubmitQuiz(course_id=course, lesson_id=removed, assessment_id="q1", answers={"a": [0]}), early
    )
    assert passed.data["attempt"]["passed"] is True and passed.data["progress"] == 100

    # Enrolled in 0.2: the removed lesson is gone; graded by 0.2's quiz (not the 0.3 draft's).
    with pytest.raises(errors.LessonNotFound):
        await world.bus.handle(c.CompleteLesson(course_id=course, lesson_id=removed), late)
    wrong = await world.bus.handle(
        c.SubmitQuiz(course_id=course, lesson_id=lesson, assessment_id="q1", answers={"a": [0]}), late
    )
    right = await world.bus.handle(
        c.SubmitQuiz(course_id=course, lesson_id=lesson, assessment_id="q1", answers={"a": [1]}), late
    )
    assert (wrong.data["attempt"]["passed"], right.data["attempt"]["passed"]) == (False, True)


async def test_prerequisites_must_be_completed_first(world: World) -> None:
    first, lesson = await world.published_course()
    second, _ = await world.published_course(prerequisites=[first])
    student = world.ctx("student")
    with pytest.raises(errors.PrerequisitesMissing):
        await world.bus.handle(c.Enrol(course_id=second), student)
    await world.bus.handle(c.Enrol(course_id=first), student)
    await world.bus.handle(c.CompleteLesson(course_id=first, lesson_id=lesson), student)
    r = await world.bus.handle(c.Enrol(course_id=second), student)
    assert r.kind == "enrollment"


async def test_drop_frees_the_seat_and_reenrol_keeps_history(world: World, store: PostgresEventStore) -> None:
    course, lesson = await world.published_course(capacity=1)
    a, b = world.ctx("student"), world.ctx("student")
    await world.bus.handle(c.Enrol(course_id=course), a)
    await world.bus.handle(c.CompleteLesson(course_id=course, lesson_id=lesson), a)
    with pytest.raises(errors.CourseFull):
        await world.bus.handle(c.Enrol(course_id=course), b)
    await world.bus.handle(c.DropEnrollment(course_id=course, reason="busy"), a)
    await world.bus.handle(c.Enrol(course_id=course), b)
    await world.bus.handle(c.DropEnrollment(course_id=course), b)
    again = await world.bus.handle(c.Enrol(course_id=course), a)
    assert again.data["round"] == 2
    history = [e.event_type for e in await store.read_stream(enrollment_id(course, a.actor_id))]
    assert history.count("EnrollmentEnrolled") == 2 and "EnrollmentCompleted" in history


async def test_roles_and_organisations_are_enforced(world: World) -> None:
    course, _ = await world.published_course()
    with pytest.raises(PermissionDenied):
        await world.bus.handle(c.CreateCourse(title="x", cefr_level="A1", category="c"), world.ctx("student"))
    stranger = world.ctx("instructor", org=uuid.uuid4())
    with pytest.raises(errors.CourseNotFound):
        await world.bus.handle(c.StartRevision(course_id=course), stranger)
    with pytest.raises(errors.CourseNotFound):
        await world.bus.handle(c.Enrol(course_id=course), world.ctx("student", org=uuid.uuid4()))


async def test_author_cannot_approve_own_course(world: World) -> None:
    r = await world.bus.handle(c.CreateCourse(title="Mine", cefr_level="A2", category="x"), world.manager)
    course = uuid.UUID(r.id)
    m = await world.bus.handle(c.AddModule(course_id=course, title="M"), world.manager)
    lr = await world.bus.handle(
        c.AddLesson(course_id=course, module_id=uuid.UUID(m.data["module_id"]), title="L"), world.manager
    )
    await world.bus.handle(
        c.SetLessonContent(course_id=course, lesson_id=uuid.UUID(lr.data["lesson_id"]), content=CONTENT), world.manager
    )
    sub = await world.bus.handle(c.SubmitCourse(course_id=course), world.manager)
    with pytest.raises(errors.SelfApproval):
        await world.bus.handle(c.ApproveCourse(review_id=uuid.UUID(sub.data["review_id"])), world.manager)


# -- decisions on held state (two processes, each with its own store) -------------------------


@pytest.fixture
async def elsewhere(database: str) -> AsyncIterator[CommandBus]:
    """The bus of another process: its own store, holding nothing of what this one holds."""
    other = PostgresEventStore(database)
    await other.start()
    yield CommandBus(other, ROUTES, make_ports())
    await other.close()


async def test_a_course_archived_elsewhere_refuses_enrolment_here(
    world: World, elsewhere: CommandBus, store: PostgresEventStore
) -> None:
    course, _ = await world.published_course()
    await world.bus.handle(c.Enrol(course_id=course), world.ctx("student"))  # this process holds it
    await elsewhere.handle(c.ArchiveCourse(course_id=course), world.manager)

    late = uuid.uuid4()
    with pytest.raises(errors.CourseNotPublished):
        await world.bus.handle(c.Enrol(course_id=course), world.ctx("student", actor=late))
    assert await store.read_stream(enrollment_id(course, late)) == []


async def test_an_enrolment_made_elsewhere_is_not_made_twice_here(world: World, elsewhere: CommandBus) -> None:
    course, _ = await world.published_course()
    student = world.ctx("student")
    await elsewhere.handle(c.Enrol(course_id=course), student)  # this process holds nothing of it
    with pytest.raises(errors.AlreadyEnrolled):
        await world.bus.handle(c.Enrol(course_id=course), student)


async def test_a_process_holding_nothing_decides_on_what_is_stored(
    world: World, elsewhere: CommandBus, store: PostgresEventStore
) -> None:
    course, lesson = await world.published_course()
    student = world.ctx("student")
    await world.bus.handle(c.Enrol(course_id=course), student)
    reply = await elsewhere.handle(c.CompleteLesson(course_id=course, lesson_id=lesson), student)
    assert reply.data["progress"] == 100.0 and reply.data["changed"]
    events = await store.read_stream(enrollment_id(course, student.actor_id))
    assert reply.version == len(events) and events[0].event_type == "EnrollmentEnrolled"
    again = await elsewhere.handle(c.CompleteLesson(course_id=course, lesson_id=lesson), student)
    assert not again.data["changed"] and again.version == len(events)  # nothing new: no event


async def test_no_command_scans_the_log_once_it_has_grown(fresh_database: str) -> None:
    """Plans made while the log was nearly empty must not scan it whole once it is large."""
    store = PostgresEventStore(fresh_database)
    await store.start()
    try:
        world = World(CommandBus(store, ROUTES, make_ports()))
        course, lesson = await world.published_course()
        students = [world.ctx("student") for _ in range(20)]
        for s in students[:10]:  # every statement prepared (and planned) on a tiny log
            await world.bus.handle(c.Enrol(course_id=course), s)
            await world.bus.handle(c.CompleteLesson(course_id=course, lesson_id=lesson), s)
        with psycopg.connect(fresh_database, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO cw_events (position, event_id, stream_id, stream_type, version, event_type,"
                " schema_version, occurred_at, correlation_id, payload, prev_hash, hash)"
                " SELECT p, gen_random_uuid(), gen_random_uuid(), 'filler', 1, 'FillerAdded', 1, now(), 'c',"
                " '{}', '\\x00', '\\x00' FROM generate_series(10000000, 10050000) p"
            )
            scans = "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'cw_events'"
            await asyncio.sleep(1.5)  # backends report their statistics within a second
            before = conn.execute(scans).fetchone()
            for s in students:
                with contextlib.suppress(errors.AlreadyEnrolled):
                    await world.bus.handle(c.Enrol(course_id=course), s)
                await world.bus.handle(c.CompleteLesson(course_id=course, lesson_id=lesson), s)
            burst = [world.bus.handle(c.Enrol(course_id=course), world.ctx("student")) for _ in range(40)]
            await asyncio.gather(*burst)  # commit groups with read checks
            await asyncio.sleep(1.5)
            after = conn.execute(scans).fetchone()
        assert before is not None and after is not None
        assert after[0] == before[0]
    finally:
        await store.close()
