"""Property: the students an instructor sees are exactly those of the courses they author or
co-author, for random courses, authors, co-authors and enrolments in two organisations
(through the real commands, relay, projectors and query)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commands.bus import CommandBus
from commands.context import Context
from infra.eventlog.postgres import PostgresEventStore
from infra.settings import Settings
from projections import queries as q
from schemas import commands as c
from schemas import identity as i
from tests.integration.projections_support import CONTENT, bus_on, projectors, relay

INSTRUCTORS, STUDENTS = 3, 4


@dataclass(frozen=True)
class Viewer:
    user_id: UUID
    org_id: UUID
    roles: frozenset[str]


@dataclass
class Organisation:
    """Its people, and every course made in it so far with its authors and students."""

    id: UUID
    instructors: list[UUID]
    students: list[UUID] = field(default_factory=lambda: [uuid4() for _ in range(STUDENTS)])
    manager: UUID = field(default_factory=uuid4)
    authors: dict[UUID, set[UUID]] = field(default_factory=dict)  # course -> author and co-authors
    enrolled: dict[UUID, set[UUID]] = field(default_factory=dict)  # course -> students

    def taught_by(self, instructor: UUID) -> set[UUID]:
        return {s for course, who in self.authors.items() if instructor in who for s in self.enrolled[course]}

    def everyone(self) -> set[UUID]:
        return {s for students in self.enrolled.values() for s in students}


@dataclass
class World:
    bus: CommandBus
    reader: q.Reader
    orgs: list[Organisation]


def ctx(org: Organisation, actor: UUID, *roles: str) -> Context:
    return Context(actor, org.id, frozenset(roles))  # type: ignore[arg-type]


async def _organisation(bus: CommandBus) -> Organisation:
    root = Context(UUID(int=1), UUID(int=0), frozenset({"platform_admin"}))
    org = UUID((await bus.handle(i.CreateOrganisation(name=f"Org {secrets.token_hex(3)}"), root)).id)
    instructors = []
    for _ in range(INSTRUCTORS):
        email = f"i-{secrets.token_hex(6)}@example.com"
        anyone = Context(UUID(int=0), UUID(int=0), frozenset({"anyone"}))
        r = await bus.handle(i.RegisterUser(email=email, password="correct horse battery", name="I"), anyone)
        await bus.handle(i.AddMember(org_id=org, email=email, roles=["instructor"]), root)
        instructors.append(UUID(r.id))
    return Organisation(org, instructors)


@pytest.fixture
async def world(settings: Settings, store: PostgresEventStore, nats_cleanup: Settings) -> AsyncIterator[World]:
    bus = bus_on(store)
    orgs = [await _organisation(bus), await _organisation(bus)]
    async with relay(settings), projectors(settings, "progress"):
        yield World(bus, q.Reader(store.pool, wait_seconds=60.0), orgs)


async def _published(w: World, org: Organisation, author: UUID, co_authors: set[UUID]) -> UUID:
    bus, as_author = w.bus, ctx(org, author, "instructor")
    course = UUID((await bus.handle(c.CreateCourse(title="C", cefr_level="B1", category="x"), as_author)).id)
    for co_author in co_authors:
        await bus.handle(c.AddCoAuthor(course_id=course, user_id=co_author), as_author)
    module = UUID((await bus.handle(c.AddModule(course_id=course, title="M"), as_author)).data["module_id"])
    r = await bus.handle(c.AddLesson(course_id=course, module_id=module, title="L"), as_author)
    lesson = UUID(r.data["lesson_id"])
    await bus.handle(c.SetLessonContent(course_id=course, lesson_id=lesson, content=CONTENT), as_author)
    review = UUID((await bus.handle(c.SubmitCourse(course_id=course), as_author)).data["review_id"])
    manager = ctx(org, org.manager, "course_manager")
    await bus.handle(c.ApproveCourse(review_id=review), manager)
    await bus.handle(c.PublishCourse(course_id=course), manager)
    org.authors[course] = {author, *co_authors}
    org.enrolled[course] = set()
    return course


courses = st.lists(
    st.tuples(
        st.integers(0, 1),  # organisation
        st.integers(0, INSTRUCTORS - 1),  # author
        st.sets(st.integers(0, INSTRUCTORS - 1)),  # co-authors
        st.sets(st.integers(0, STUDENTS - 1)),  # students enrolled
    ),
    min_size=1,
    max_size=3,
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(made=courses)
async def test_an_instructor_sees_exactly_the_students_of_the_courses_they_write(
    world: World, made: list[tuple[int, int, set[int], set[int]]]
) -> None:
    w = world  # courses accumulate over the examples: the expectation is over all of them
    for org_index, author, co_authors, students in made:
        org = w.orgs[org_index]
        course = await _published(w, org, org.instructors[author], {org.instructors[x] for x in co_authors})
        for s in students:
            await w.bus.handle(c.Enrol(course_id=course), ctx(org, org.students[s], "student"))
            org.enrolled[course].add(org.students[s])
    position = await w.bus.store.head()
    for org in w.orgs:
        for instructor in org.instructors:
            viewer = Viewer(instructor, org.id, frozenset({"instructor"}))
            seen = await q.instructor_students(w.reader, viewer, limit=1000, position=position)
            assert {UUID(p.student_id) for p in seen.items} == org.taught_by(instructor)
        manager = Viewer(org.manager, org.id, frozenset({"course_manager"}))
        seen = await q.instructor_students(w.reader, manager, limit=1000, position=position)
        assert {UUID(p.student_id) for p in seen.items} == org.everyone()
