"""The command bus on an in-memory store: roles, retries on conflicts, idempotency keys."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from uuid import UUID, uuid4

import msgspec
import pytest

from commands import codec
from commands.bus import CommandBus, idempotency_of
from commands.context import Context
from commands.errors import IdempotencyKeyReused, PermissionDenied, TooMuchContention, UnknownCommand
from commands.routes import ROUTES
from commands.session import Session
from commands.shared_views import SharedViews
from domain import errors
from domain.course import Course
from infra.errors import ConcurrencyError
from infra.eventlog import AppendResult, Commit, EventMeta, KeptReply, NewEvent, StreamWrite, encode, wire_name
from infra.eventlog.memory import InMemoryEventStore
from schemas import commands as c
from schemas.access import Reach
from schemas.results import CommandResult
from schemas.roles import Role
from tests.ports import make_ports

ORG = uuid.UUID("00000000-0000-4000-8000-00000000000a")
AUTHOR = uuid.UUID("00000000-0000-4000-8000-0000000000a1")


def ctx(*roles: Role, actor: UUID = AUTHOR, key: str | None = None, bind: bool = True) -> Context:
    return Context(actor, ORG, frozenset(roles), idempotency_key=key, bind_key=bind)


class CountingStore(InMemoryEventStore):
    """Counts the bus's appends; before each of the first `interfere` ones, another writer wins."""

    def __init__(self, interfere: int = 0) -> None:
        super().__init__()
        self.attempts = 0
        self.interfere = interfere
        self.rival: UUID | None = None  # the stream the other writer changes

    async def append(self, commit: Commit) -> AppendResult:
        self.attempts += 1
        if self.interfere and self.rival is not None:
            self.interfere -= 1
            await self.write_rival_module(self.rival)
        return await super().append(commit)

    async def write_rival_module(self, course_id: UUID) -> None:
        stored = (await self.read_streams([course_id]))[course_id]
        event = Course.ModuleAdded(uuid4(), "Added by someone else", 0)
        write = StreamWrite(
            course_id,
            Course.stream_type,
            len(stored),
            [NewEvent(uuid4(), wire_name(type(event)), encode(event))],
            bytes.fromhex(stored[-1].hash),
        )
        meta = EventMeta(datetime.now(UTC), "rival", str(uuid4()), str(ORG))
        await super().append(Commit([write], meta))


async def create_course(bus: CommandBus) -> UUID:
    command = c.CreateCourse(title="Forklifts", cefr_level="B1", category="safety")
    return UUID((await bus.handle(command, ctx("instructor"))).id)


def course_of(store: InMemoryEventStore, course_id: UUID) -> Course:
    stored = store.streams[course_id]
    return Course.replay(course_id, [codec.decode(e.event_type, e.payload) for e in stored])


# -- roles -----------------------------------------------------------------------------------


async def test_a_role_outside_the_route_is_denied_before_anything_runs() -> None:
    store = CountingStore()
    bus = CommandBus(store, ROUTES, make_ports())
    with pytest.raises(PermissionDenied, match="CreateCourse"):
        await bus.handle(c.CreateCourse(title="x", cefr_level="A1", category="c"), ctx("student"))
    assert store.attempts == 0 and store.log == []


async def test_an_instructor_acts_on_a_colleagues_draft_only_through_the_table() -> None:
    """The bus hands the handler the caller's reach from schemas.access, not a role check of its own."""
    store = CountingStore()
    bus = CommandBus(store, ROUTES, make_ports())
    with pytest.raises(PermissionDenied, match="ApproveCourse needs one of: course_manager"):
        await bus.handle(c.ApproveCourse(review_id=uuid4()), ctx("instructor", "student"))
    assert store.attempts == 0


async def test_a_command_without_a_route_is_unknown() -> None:
    bus = CommandBus(CountingStore(), {}, make_ports())
    with pytest.raises(UnknownCommand):
        await bus.handle(c.SubmitCourse(course_id=uuid4()), ctx("platform_admin"))


# -- conflicts -------------------------------------------------------------------------------


async def test_a_conflict_is_retried_on_fresh_state_and_then_succeeds() -> None:
    store = CountingStore()
    bus = CommandBus(store, ROUTES, make_ports(), retries=5)
    course_id = await create_course(bus)
    store.attempts, store.interfere, store.rival = 0, 2, course_id

    reply = await bus.handle(c.AddModule(course_id=course_id, title="Basics"), ctx("instructor"))

    assert store.attempts == 3  # two lost to the other writer, the third won
    course = course_of(store, course_id)
    assert [m.title for m in course.modules] == [
        "Added by someone else",
        "Added by someone else",
        "Basics",
    ]
    assert reply.data["module_id"] == str(course.modules[-1].id)
    assert (reply.version, reply.position, reply.replayed) == (4, 4, False)


async def test_endless_conflicts_end_in_too_much_contention_after_the_retries() -> None:
    store = CountingStore()
    bus = CommandBus(store, ROUTES, make_ports(), retries=4)
    course_id = await create_course(bus)
    store.attempts, store.interfere, store.rival = 0, 10**6, course_id

    with pytest.raises(TooMuchContention):
        await bus.handle(c.AddModule(course_id=course_id, title="Basics"), ctx("instructor"))

    assert store.attempts == 4
    titles = [m.title for m in course_of(store, course_id).modules]
    assert titles == ["Added by someone else"] * 4  # nothing of ours was written


async def test_the_in_memory_store_refuses_a_stale_expected_version() -> None:
    store = CountingStore()
    bus = CommandBus(store, ROUTES, make_ports())
    course_id = await create_course(bus)
    await store.write_rival_module(course_id)
    event = Course.ModuleAdded(uuid4(), "Stale", 0)
    stale = StreamWrite(course_id, "course", 1, [NewEvent(uuid4(), "CourseModuleAdded", encode(event))])
    with pytest.raises(ConcurrencyError) as raised:
        await store.append(Commit([stale], EventMeta(datetime.now(UTC), "x")))
    assert (raised.value.expected, raised.value.actual) == (1, 2)
    assert len(store.streams[course_id]) == 2


# -- idempotency -----------------------------------------------------------------------------


async def test_an_idempotency_key_replays_the_first_reply_and_writes_nothing() -> None:
    store = CountingStore()
    bus = CommandBus(store, ROUTES, make_ports())
    course_id = uuid4()
    command = c.CreateCourse(course_id=course_id, title="Forklifts", cefr_level="B1", category="s")

    first = await bus.handle(command, ctx("instructor", key="k-1"))
    head = await store.head()
    again = await bus.handle(command, ctx("instructor", key="k-1"))

    assert first.replayed is False
    assert again.replayed is True
    assert (again.id, again.kind, again.version, again.position) == (
        first.id,
        first.kind,
        first.version,
        first.position,
    )
    assert store.attempts == 1 and await store.head() == head
    # Without the key the same command is a conflict, not a second course.
    with pytest.raises(errors.CourseAlreadyExists):
        await bus.handle(command, ctx("instructor"))


async def test_a_key_is_bound_to_its_caller_command_and_body() -> None:
    store = CountingStore()
    bus = CommandBus(store, ROUTES, make_ports())
    create = c.CreateCourse(course_id=uuid4(), title="A", cefr_level="B1", category="s")
    mine = await bus.handle(create, ctx("instructor", key="same"))
    refused = {
        "with another body": (msgspec.structs.replace(create, title="B"), ctx("instructor", key="same")),
        "for another command (CreateCourse, not AddModule)": (
            c.AddModule(course_id=UUID(mine.id), title="M"),
            ctx("instructor", key="same"),
        ),
        "by another caller of the organisation": (create, ctx("instructor", actor=uuid4(), key="same")),
    }
    for why, (command, context) in refused.items():
        with pytest.raises(IdempotencyKeyReused) as info:
            await bus.handle(command, context)
        assert f"first used {why}" in str(info.value)
    assert store.attempts == 1
    # Another organisation's key of the same spelling is its own.
    elsewhere = Context(uuid4(), uuid4(), frozenset({"instructor"}), idempotency_key="same", bind_key=True)
    theirs = await bus.handle(c.CreateCourse(title="B", cefr_level="B1", category="s"), elsewhere)
    assert not theirs.replayed and theirs.id != mine.id
    # The same request again is the first answer.
    assert (await bus.handle(create, ctx("instructor", key="same"))).replayed


async def test_a_workers_key_replays_its_first_answer_whatever_it_sends_again() -> None:
    store = CountingStore()
    bus = CommandBus(store, ROUTES, make_ports())
    create = c.CreateCourse(course_id=uuid4(), title="A", cefr_level="B1", category="s")
    first = await bus.handle(create, ctx("instructor", key="step-1", bind=False))
    again = await bus.handle(msgspec.structs.replace(create, title="B"), ctx("instructor", key="step-1", bind=False))
    assert again.replayed and again.id == first.id and store.attempts == 1
    # Per command, as before: another command under the same key is its own.
    module = await bus.handle(
        c.AddModule(course_id=UUID(first.id), title="M"), ctx("instructor", key="step-1", bind=False)
    )
    assert not module.replayed


def test_the_fingerprint_does_not_depend_on_how_the_body_was_spelled() -> None:
    review = uuid4()
    a = c.SubmitQuiz(course_id=review, lesson_id=review, assessment_id="a", answers={"q1": [0], "q2": [1]})
    b = c.SubmitQuiz(course_id=review, lesson_id=review, assessment_id="a", answers={"q2": [1], "q1": [0]})
    key = ctx("student", key="k")
    assert idempotency_of(a, key) == idempotency_of(b, key)
    assert idempotency_of(a, ctx("student")) is None


class TwinStore(CountingStore):
    """Lets a twin of the command (same actor, same key) commit at one chosen moment."""

    def __init__(self, moment: str) -> None:
        super().__init__()
        self.moment = moment  # "after_lookup" or "before_append"
        self.twin: tuple[CommandBus, c.Command, Context] | None = None
        self.twin_reply: CommandResult | None = None

    async def _run_twin(self) -> None:
        if self.twin is not None:
            bus, command, context = self.twin
            self.twin = None
            self.twin_reply = await bus.handle(command, context)

    async def idempotent_reply(self, scope: str, key: str) -> KeptReply | None:
        found = await super().idempotent_reply(scope, key)
        if self.moment == "after_lookup":
            await self._run_twin()
        return found

    async def append(self, commit: Commit) -> AppendResult:
        if self.moment == "before_append":
            await self._run_twin()
        return await super().append(commit)


@pytest.mark.parametrize("moment", ["after_lookup", "before_append"])
async def test_a_twin_that_commits_first_is_answered_with_its_reply(moment: str) -> None:
    store = TwinStore(moment)
    bus = CommandBus(store, ROUTES, make_ports())
    command = c.CreateCourse(course_id=uuid4(), title="Forklifts", cefr_level="B1", category="s")
    context = ctx("instructor", key="twin")
    store.twin = (bus, command, context)

    reply = await bus.handle(command, context)

    assert store.twin_reply is not None and store.twin_reply.replayed is False
    assert reply.replayed is True
    assert (reply.id, reply.version, reply.position) == (
        store.twin_reply.id,
        store.twin_reply.version,
        store.twin_reply.position,
    )
    assert [e.event_type for e in store.log] == ["CourseCreated"]


# -- replies ---------------------------------------------------------------------------------


async def test_a_command_that_changes_nothing_appends_nothing() -> None:
    store = CountingStore()
    bus = CommandBus(store, ROUTES, make_ports())
    course_id = await create_course(bus)
    added = await bus.handle(c.AddModule(course_id=course_id, title="Basics"), ctx("instructor"))
    store.attempts = 0
    same = await bus.handle(
        c.RenameModule(course_id=course_id, module_id=UUID(added.data["module_id"]), title="Basics"),
        ctx("instructor"),
    )
    assert store.attempts == 0
    assert (same.version, same.position) == (added.version, added.position) == (2, 2)


async def test_domain_errors_reach_the_caller_and_write_nothing() -> None:
    store = CountingStore()
    bus = CommandBus(store, ROUTES, make_ports())
    course_id = await create_course(bus)
    with pytest.raises(errors.CourseIncomplete):
        await bus.handle(c.SubmitCourse(course_id=course_id), ctx("instructor"))
    with pytest.raises(errors.CourseNotFound):
        await bus.handle(c.SubmitCourse(course_id=uuid4()), ctx("instructor"))
    assert len(store.log) == 1


# -- read-only views ----------------------------------------------------------------------------


async def test_changing_an_aggregate_through_a_view_is_refused_and_writes_nothing() -> None:
    store = CountingStore()
    bus = CommandBus(store, ROUTES, make_ports())
    course_id = await create_course(bus)
    session = Session(store, ctx("instructor"), bus.ports, reach=Reach.OWN)
    course = await session.view(Course, course_id)
    course.add_module(uuid4(), "Sneaky")
    with pytest.raises(RuntimeError, match="read-only view"):
        session.prepare(course, "course")
    assert len(store.streams[course_id]) == 1


async def test_decisions_share_a_view_while_its_stream_stands() -> None:
    store = CountingStore()
    bus = CommandBus(store, ROUTES, make_ports())
    course_id = await create_course(bus)
    shared = SharedViews()

    async def view() -> Course:
        session = Session(store, ctx("instructor"), bus.ports, reach=Reach.OWN, shared=shared)
        return await session.view(Course, course_id)

    first = await view()
    assert await view() is first  # replayed once
    await bus.handle(c.AddModule(course_id=course_id, title="Basics"), ctx("instructor"))
    moved_on = await view()
    assert moved_on is not first and moved_on.version == 2 and len(moved_on.modules) == 1
    assert first.version == 1 and first.modules == []  # what a decision held stays as it was


async def test_a_shared_view_refuses_a_change_at_once_and_stays_as_it_was() -> None:
    store = CountingStore()
    bus = CommandBus(store, ROUTES, make_ports())
    course_id = await create_course(bus)
    shared = SharedViews()
    session = Session(store, ctx("instructor"), bus.ports, reach=Reach.OWN, shared=shared)
    course = await session.view(Course, course_id)
    with pytest.raises(RuntimeError, match="shared between decisions"):
        course.add_module(uuid4(), "Sneaky")
    other = Session(store, ctx("instructor"), bus.ports, reach=Reach.OWN, shared=shared)
    seen = await other.view(Course, course_id)
    assert seen is course and seen.version == 1 and seen.modules == [] and seen.pending == []
    # A decision that writes the stream loads an aggregate of its own.
    mine = await other.load(Course, course_id)
    assert mine is not course
    mine.add_module(uuid4(), "Basics")
    assert course.modules == []
