"""Aggregate invariants under random command sequences, and the event codec's round trip.

Replay gives the live state, progress stays within 0-100, each event adds one version, and every
event decodes to what was encoded.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    rule,
)

from commands import codec
from commands.courses import to_domain_content
from domain import errors
from domain.aggregate import Aggregate, Event
from domain.content import Assessment, LessonContent, Question
from domain.course import CEFR_LEVELS, Course, Details, Module
from domain.enrollment import Enrollment, ModuleOutline
from domain.seats import CourseSeats
from infra.eventlog import encode, wire_name
from schemas import commands as wire
from tests.unit import builders as b
from tests.unit.strategies import contents, of_type

# No example database: the unit suite writes nothing to disk.
PROPERTIES = settings(
    max_examples=100,
    stateful_step_count=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def through_codec(aggregate: type[Aggregate], events: list[Event]) -> list[Event]:
    """Each event as the store would give it back."""
    return [codec.decode(wire_name(type(e)), encode(e)) for e in events]


class Recorder:
    """Runs decisions on one aggregate and keeps every event it recorded, in order."""

    def __init__(self, agg: Aggregate) -> None:
        self.agg = agg
        self.history: list[Event] = []

    def run(self, decide: Callable[..., object], *args: Any) -> list[Event]:
        version = self.agg.version
        try:
            decide(*args)
        except errors.DomainError:
            # A refused command records nothing and leaves the version alone.
            assert self.agg.pending == []
            assert self.agg.version == version
            return []
        new = self.agg.collect()
        assert self.agg.version == version + len(new)  # exactly one version per event
        self.history.extend(new)
        return new


# -- Course ----------------------------------------------------------------------------------


def _modules_state(modules: list[Module]) -> tuple[Any, ...]:
    return tuple(
        (
            m.id,
            m.title,
            tuple((x.id, x.title, x.duration_minutes, tuple(x.versions), x.current, x.content) for x in m.lessons),
        )
        for m in modules
    )


def course_state(c: Course) -> tuple[Any, ...]:
    live = c.live
    return (
        c.version,
        c.status,
        c.org_id,
        c.author_id,
        c.details,
        c.revision,
        c.review_id,
        c.feedback,
        _modules_state(c.modules),
        None if live is None else (live.label, live.details, _modules_state(live.modules)),
    )


valid_details = st.builds(
    Details,
    title=st.sampled_from(["Forklifts", "Cranes"]),
    description=st.just(""),
    cefr_level=st.sampled_from(CEFR_LEVELS),
    category=st.just("safety"),
    capacity=st.none() | st.integers(1, 3),
)
any_details = st.builds(
    Details,
    title=st.sampled_from(["Forklifts", "Cranes", " "]),
    description=st.sampled_from(["", "About lifting"]),
    cefr_level=st.sampled_from([*CEFR_LEVELS, "Z9"]),
    category=st.just("safety"),
    tags=st.sampled_from([(), ("safety",)]),
    capacity=st.none() | st.integers(0, 3),
    prerequisites=st.sampled_from([(), (UUID(int=7),)]),
)
titles = st.sampled_from(["Basics", "Advanced", "", "Basics 2"])
minutes = st.sampled_from([0, 1, 15, 1440, 1441]) | st.integers(1, 1440)


class CourseMachine(RuleBasedStateMachine):
    modules = Bundle("modules")
    lessons = Bundle("lessons")

    @initialize(d=valid_details)
    def create(self, d: Details) -> None:
        course = Course.blank(uuid4())
        self.rec = Recorder(course)
        self.rec.run(lambda: course.create(b.ORG, b.AUTHOR, d))
        assert course.exists
        self.course = course

    def _run(self, decide: Callable[[], object]) -> list[Event]:
        live = copy.deepcopy(self.course.live)
        new = self.rec.run(decide)
        if not any(isinstance(e, Course.Published) for e in new):
            # Nothing but publishing changes what students see.
            assert self.course.live == live
        return new

    @rule(target=modules, title=titles, index=st.none() | st.integers(-1, 4))
    def add_module(self, title: str, index: int | None) -> Any:
        module = uuid4()
        added = self._run(lambda: self.course.add_module(module, title, index))
        return multiple(module) if added else multiple()

    @rule(module=modules, title=titles)
    def add_module_with_a_taken_id(self, module: UUID, title: str) -> None:
        self._run(lambda: self.course.add_module(module, title))

    @rule(module=modules, title=titles)
    def rename_module(self, module: UUID, title: str) -> None:
        self._run(lambda: self.course.rename_module(module, title))

    @rule(data=st.data(), drop_one=st.booleans())
    def reorder_modules(self, data: st.DataObject, drop_one: bool) -> None:
        ids = [m.id for m in self.course.modules]
        order = data.draw(st.permutations(ids))
        if drop_one and order:
            order = order[1:]
        self._run(lambda: self.course.reorder_modules(tuple(order)))

    @rule(module=consumes(modules))
    def remove_module(self, module: UUID) -> None:
        self._run(lambda: self.course.remove_module(module))

    @rule(target=lessons, module=modules, title=titles, duration=minutes)
    def add_lesson(self, module: UUID, title: str, duration: int) -> Any:
        lesson = uuid4()
        added = self._run(lambda: self.course.add_lesson(module, lesson, title, duration))
        return multiple(lesson) if added else multiple()

    @rule(module=modules, lesson=lessons)
    def add_lesson_with_a_taken_id(self, module: UUID, lesson: UUID) -> None:
        self._run(lambda: self.course.add_lesson(module, lesson, "Again", 10))

    @rule(lesson=lessons, title=titles, duration=minutes)
    def edit_lesson(self, lesson: UUID, title: str, duration: int) -> None:
        self._run(lambda: self.course.edit_lesson(lesson, title, duration))

    @rule(data=st.data())
    def reorder_lessons(self, data: st.DataObject) -> None:
        if not self.course.modules:
            return
        module = data.draw(st.sampled_from(self.course.modules))
        order = data.draw(st.permutations([x.id for x in module.lessons]))
        self._run(lambda: self.course.reorder_lessons(module.id, tuple(order)))

    @rule(lesson=consumes(lessons))
    def remove_lesson(self, lesson: UUID) -> None:
        self._run(lambda: self.course.remove_lesson(lesson))

    @rule(lesson=lessons, content=contents() | st.just(LessonContent()))
    def set_content(self, lesson: UUID, content: LessonContent) -> None:
        self._run(lambda: self.course.set_content(lesson, content))

    @rule(lesson=lessons, version=st.integers(0, 4))
    def restore_content(self, lesson: UUID, version: int) -> None:
        new = self._run(lambda: self.course.restore_content(lesson, version))
        if new:
            found = self.course.lesson(lesson)[1]
            assert found.content == found.versions[version - 1]

    @rule(d=any_details)
    def edit_details(self, d: Details) -> None:
        self._run(lambda: self.course.edit_details(d))

    @rule()
    def submit(self) -> None:
        self._run(lambda: self.course.submit(uuid4()))

    @rule(reviewer=st.sampled_from([b.REVIEWER, b.AUTHOR]), right_review=st.booleans())
    def approve(self, reviewer: UUID, right_review: bool) -> None:
        review = (self.course.review_id or uuid4()) if right_review else uuid4()
        self._run(lambda: self.course.approve(review, reviewer))

    @rule(feedback=st.sampled_from(["", "needs work"]))
    def reject(self, feedback: str) -> None:
        review = self.course.review_id or uuid4()
        self._run(lambda: self.course.reject(review, b.REVIEWER, feedback))

    @rule()
    def publish(self) -> None:
        self._run(self.course.publish)

    @rule()
    def archive(self) -> None:
        self._run(self.course.archive)

    @rule()
    def delete(self) -> None:
        self._run(self.course.delete)

    @rule(kind=st.sampled_from(["major", "minor"]))
    def start_revision(self, kind: Any) -> None:
        self._run(lambda: self.course.start_revision(kind))

    @invariant()
    def replay_gives_the_live_state(self) -> None:
        history = self.rec.history
        assert self.course.version == len(history)
        assert course_state(Course.replay(self.course.id, history)) == course_state(self.course)
        stored = through_codec(Course, history)
        assert stored == history
        assert course_state(Course.replay(self.course.id, stored)) == course_state(self.course)

    @invariant()
    def ids_are_unique_and_content_versions_consistent(self) -> None:
        modules = [m.id for m in self.course.modules]
        lessons = [x for m in self.course.modules for x in m.lessons]
        assert len(set(modules)) == len(modules)
        assert len({x.id for x in lessons}) == len(lessons)
        for x in lessons:
            assert 0 <= x.current <= len(x.versions)
            assert (x.content is None) == (x.current == 0)
            assert 1 <= x.duration_minutes <= 1440


CourseMachine.TestCase.settings = PROPERTIES
test_course_replay_and_versions = CourseMachine.TestCase


# -- Enrollment ------------------------------------------------------------------------------


@st.composite
def outlines(draw: st.DrawFn) -> tuple[ModuleOutline, ...]:
    sizes = draw(st.lists(st.integers(0, 3), min_size=1, max_size=3).filter(lambda s: sum(s) > 0))
    return tuple(ModuleOutline(uuid4(), tuple(uuid4() for _ in range(n))) for n in sizes)


def enrollment_state(e: Enrollment) -> tuple[Any, ...]:
    return (
        e.version,
        e.status,
        e.round,
        e.revision,
        e.outline,
        e.course_id,
        e.student_id,
        e.org_id,
        frozenset(e.completed_lessons),
        frozenset(e.completed_modules),
        tuple(e.quiz_attempts),
        e.ever_completed,
        e.enrolled_at,
        e.last_activity,
        e.progress,
    )


@st.composite
def small_quizzes(draw: st.DrawFn) -> Assessment:
    """A quiz of one or two questions; every quiz has the same id, as quiz ids repeat across lessons."""
    questions = []
    for qid in draw(st.sampled_from([("a",), ("a", "b")])):
        n = draw(st.integers(2, 3))
        correct = sorted(draw(st.sets(st.integers(0, n - 1), min_size=1)))
        questions.append(Question(qid, "?", ("x", "y", "z")[:n], tuple(correct), draw(st.integers(1, 3))))
    return Assessment(
        "quiz",
        "Check",
        tuple(questions),
        draw(st.sampled_from([0.5, 0.7, 1.0])),
        draw(st.none() | st.integers(1, 2)),
    )


class EnrollmentMachine(RuleBasedStateMachine):
    @initialize(outline=outlines(), data=st.data())
    def start(self, outline: tuple[ModuleOutline, ...], data: st.DataObject) -> None:
        self.outline = outline
        self.lesson_ids = [x for m in outline for x in m.lesson_ids]
        self.quizzes = {x: data.draw(small_quizzes()) for x in self.lesson_ids}
        self.enrollment = Enrollment.blank(uuid4())
        self.rec = Recorder(self.enrollment)
        self.clock = b.T0
        self.course_id = uuid4()

    def _now(self) -> datetime:
        self.clock += timedelta(minutes=1)
        return self.clock

    def _lesson(self, data: st.DataObject) -> UUID:
        return data.draw(st.sampled_from(self.lesson_ids) | st.builds(uuid4))

    @rule()
    def enrol(self) -> None:
        e = self.enrollment
        self.rec.run(lambda: e.enrol(self.course_id, b.STUDENT, b.ORG, "1.0", self.outline, self._now()))

    @rule(data=st.data())
    def complete_lesson(self, data: st.DataObject) -> None:
        lesson = self._lesson(data)
        was_done = lesson in self.enrollment.completed_lessons
        changed: list[bool] = []
        new = self.rec.run(lambda: changed.append(self.enrollment.complete_lesson(lesson, self._now())))
        if changed:
            assert changed == [not was_done]
            assert bool(new) is not was_done  # idempotent: no event the second time

    @rule(data=st.data(), right=st.booleans())
    def submit_quiz(self, data: st.DataObject, right: bool) -> None:
        lesson = self._lesson(data)
        quiz = self.quizzes.get(lesson) or data.draw(small_quizzes())
        answers: dict[str, tuple[int, ...]] = {}
        for q in quiz.questions:
            if right:
                answers[q.id] = q.correct
            elif data.draw(st.booleans()):
                answers[q.id] = tuple(data.draw(st.lists(st.integers(0, len(q.options)), max_size=3)))
        if data.draw(st.integers(0, 9)) == 0:
            answers["not-a-question"] = (0,)
        new = self.rec.run(lambda: self.enrollment.submit_quiz(lesson, quiz, answers, self._now()))
        if new and right:
            assert lesson in self.enrollment.completed_lessons

    @rule(reason=st.sampled_from(["", "busy"]))
    def drop(self, reason: str) -> None:
        self.rec.run(lambda: self.enrollment.drop(reason, self._now()))

    @invariant()
    def progress_stays_between_0_and_100(self) -> None:
        e = self.enrollment
        assert 0.0 <= e.progress <= 100.0
        assert e.completed_lessons <= set(self.lesson_ids)
        if e.status == "completed":
            assert e.progress == 100.0
        if e.status == "active":
            assert e.progress < 100.0

    @invariant()
    def attempts_never_exceed_the_cap(self) -> None:
        for lesson, quiz in self.quizzes.items():
            taken = self.enrollment.attempts(quiz.id, lesson)
            assert [a.attempt for a in taken] == list(range(1, len(taken) + 1))
            if quiz.max_attempts is not None:
                assert len(taken) <= quiz.max_attempts

    @invariant()
    def replay_gives_the_live_state(self) -> None:
        e, history = self.enrollment, self.rec.history
        assert e.version == len(history)
        assert enrollment_state(Enrollment.replay(e.id, history)) == enrollment_state(e)
        stored = through_codec(Enrollment, history)
        assert stored == history
        assert enrollment_state(Enrollment.replay(e.id, stored)) == enrollment_state(e)


EnrollmentMachine.TestCase.settings = PROPERTIES
test_enrollment_replay_progress_and_versions = EnrollmentMachine.TestCase


@PROPERTIES
@given(outline=outlines(), data=st.data())
def test_progress_is_the_share_of_completed_lessons(outline: tuple[ModuleOutline, ...], data: st.DataObject) -> None:
    e = Enrollment.blank(uuid4())
    e.enrol(uuid4(), b.STUDENT, b.ORG, "1.0", outline, b.T0)
    lessons = [x for m in outline for x in m.lesson_ids]
    done: set[UUID] = set()
    for lesson in data.draw(st.lists(st.sampled_from(lessons), max_size=12)):
        e.complete_lesson(lesson, b.T0)
        done.add(lesson)
        assert e.progress == pytest.approx(100.0 * len(done) / len(lessons))
        assert 0.0 <= e.progress <= 100.0


# -- Seats -----------------------------------------------------------------------------------


@PROPERTIES
@given(
    capacity=st.integers(1, 4),
    steps=st.lists(st.tuples(st.sampled_from(["take", "release", "resize"]), st.integers(0, 5))),
)
def test_seats_are_never_taken_beyond_the_capacity(capacity: int, steps: list[tuple[str, int]]) -> None:
    seats = CourseSeats.blank(uuid4())
    rec = Recorder(seats)
    course = uuid4()
    rec.run(lambda: seats.open(course, capacity))
    students = [UUID(int=i + 1) for i in range(6)]
    for action, n in steps:
        before = set(seats.holders)
        if action == "take":
            new = rec.run(seats.take, students[n])
            if new:
                assert len(seats.holders) <= seats.capacity
            else:
                assert students[n] in before or len(before) >= seats.capacity
        elif action == "release":
            rec.run(seats.release, students[n])
            assert students[n] not in seats.holders
        else:
            rec.run(seats.open, course, n + 1)
        assert 0 <= seats.free <= seats.capacity
    again = CourseSeats.replay(seats.id, through_codec(CourseSeats, rec.history))
    assert (again.holders, again.capacity, again.version) == (seats.holders, seats.capacity, seats.version)


# -- codec -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(codec.CATALOGUE))
@settings(PROPERTIES, max_examples=40)  # per event type: flat records; documents get 100 below
@given(data=st.data())
def test_every_event_round_trips_through_the_codec(name: str, data: st.DataObject) -> None:
    cls = codec.CATALOGUE.event_class(name)
    event = data.draw(of_type(cls))
    assert codec.decode(name, encode(event)) == event


@PROPERTIES
@given(content=contents(), version=st.integers(1, 10_000), restored=st.none() | st.integers(1, 99))
def test_content_versions_round_trip_with_any_valid_document(
    content: LessonContent, version: int, restored: int | None
) -> None:
    content.validate()
    event = Course.ContentVersioned(uuid4(), version, content, restored)
    assert codec.decode("CourseContentVersioned", encode(event)) == event


@PROPERTIES
@given(content=contents())
def test_a_wire_content_document_becomes_the_same_domain_document(content: LessonContent) -> None:
    on_the_wire = msgspec.convert(msgspec.to_builtins(content), wire.LessonContent)
    assert to_domain_content(on_the_wire) == content


def test_the_codec_names_an_unknown_event_type() -> None:
    with pytest.raises(LookupError, match="NoSuchEvent"):
        codec.decode("NoSuchEvent", b"{}")
