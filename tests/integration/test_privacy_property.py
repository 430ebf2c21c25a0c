"""Property: the enrolments an instructor or trainer sees are exactly those of the courses they
author or co-author and of the cohorts they train; a course manager sees all of their
organisation's. For random courses, authors, co-authors, enrolments, cohorts and trainers in two
organisations (through the real commands, relay, projectors and query)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
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

INSTRUCTORS, STUDENTS, TRAINERS = 3, 4, 2
Seen = set[tuple[UUID, UUID]]  # (course, student) of each enrolment seen


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
    trainers: list[UUID]
    students: list[UUID] = field(default_factory=lambda: [uuid4() for _ in range(STUDENTS)])
    manager: UUID = field(default_factory=uuid4)
    authors: dict[UUID, set[UUID]] = field(default_factory=dict)  # course -> author and co-authors
    enrolled: dict[UUID, set[UUID]] = field(default_factory=dict)  # course -> students
    # cohort -> (its course, its trainers, the students whose enrolments are in it)
    cohorts: dict[UUID, tuple[UUID, set[UUID], set[UUID]]] = field(default_factory=dict)

    def taught_by(self, teacher: UUID) -> Seen:
        """The rule: the enrolments in courses they write, and in cohorts they train."""
        written = {(c, s) for c, who in self.authors.items() if teacher in who for s in self.enrolled[c]}
        trained = {(c, s) for c, trainers, members in self.cohorts.values() if teacher in trainers for s in members}
        return written | trained

    def everyone(self) -> Seen:
        return {(c, s) for c, students in self.enrolled.items() for s in students}


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

    async def members(role: str, n: int) -> list[UUID]:
        made = []
        for _ in range(n):
            email = f"{role}-{secrets.token_hex(6)}@example.com"
            anyone = Context(UUID(int=0), UUID(int=0), frozenset({"anyone"}))
            r = await bus.handle(i.RegisterUser(email=email, password="correct horse battery", name="I"), anyone)
            await bus.handle(i.AddMember(org_id=org, email=email, roles=[role]), root)  # type: ignore[list-item]
            made.append(UUID(r.id))
        return made

    return Organisation(org, await members("instructor", INSTRUCTORS), await members("trainer", TRAINERS))


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


async def _cohort(w: World, org: Organisation, course: UUID, trainers: set[UUID], students: set[UUID]) -> None:
    """A cohort of the course with these trainers and these students' enrolments in it."""
    manager = ctx(org, org.manager, "course_manager")
    made = await w.bus.handle(c.CreateCohort(course_id=course, name="K", starts_on=date(2026, 3, 1)), manager)
    cohort = UUID(made.id)
    for trainer in trainers:
        await w.bus.handle(c.AssignTrainer(cohort_id=cohort, trainer_id=trainer), manager)
    for student in students:
        await w.bus.handle(c.AddToCohort(cohort_id=cohort, student_id=student), manager)
    org.cohorts[cohort] = (course, trainers, students)


courses = st.lists(
    st.tuples(
        st.integers(0, 1),  # organisation
        st.integers(0, INSTRUCTORS - 1),  # author
        st.sets(st.integers(0, INSTRUCTORS - 1)),  # co-authors
        st.sets(st.integers(0, STUDENTS - 1)),  # students enrolled
        st.sets(st.integers(0, STUDENTS - 1)),  # of those, the ones put in a cohort
        st.sets(st.integers(0, TRAINERS - 1)),  # the cohort's trainers
    ),
    min_size=1,
    max_size=3,
)


async def _seen(w: World, viewer: Viewer, position: int) -> Seen:
    seen = await q.instructor_students(w.reader, viewer, limit=1000, position=position)
    return {(UUID(p.course_id), UUID(p.student_id)) for p in seen.items}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(made=courses)
async def test_teachers_see_exactly_the_students_of_the_courses_they_write_and_the_cohorts_they_train(
    world: World, made: list[tuple[int, int, set[int], set[int], set[int], set[int]]]
) -> None:
    w = world  # courses accumulate over the examples: the expectation is over all of them
    for org_index, author, co_authors, students, grouped, trainers in made:
        org = w.orgs[org_index]
        course = await _published(w, org, org.instructors[author], {org.instructors[x] for x in co_authors})
        for s in students:
            await w.bus.handle(c.Enrol(course_id=course), ctx(org, org.students[s], "student"))
            org.enrolled[course].add(org.students[s])
        members = {org.students[s] for s in grouped & students}
        await _cohort(w, org, course, {org.trainers[t] for t in trainers}, members)
    position = await w.bus.store.head()
    for org in w.orgs:
        for instructor in org.instructors:
            assert await _seen(w, Viewer(instructor, org.id, frozenset({"instructor"})), position) == org.taught_by(
                instructor
            )
        for trainer in org.trainers:
            viewer = Viewer(trainer, org.id, frozenset({"trainer"}))
            assert await _seen(w, viewer, position) == org.taught_by(trainer)
            # The same rule on a student's profile.
            for student in org.students:
                assert await q.teaches(w.reader, viewer, student) == any(
                    s == student for _, s in org.taught_by(trainer)
                )
        manager = Viewer(org.manager, org.id, frozenset({"course_manager"}))
        assert await _seen(w, manager, position) == org.everyone()
