"""Labs in the course model and the LabSession aggregate, through the command bus (no I/O)."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from uuid import UUID, uuid4

import msgspec
import pytest

from commands import codec
from commands.bus import CommandBus
from commands.context import Context
from commands.errors import PermissionDenied
from commands.routes import ROUTES
from domain import errors
from domain.course import Course
from domain.enrollment import Enrollment, enrollment_id
from domain.lab import LabFile, LabLimits, LabSession, LabSpec, lab_session_id
from infra.eventlog.memory import InMemoryEventStore
from schemas import commands as c
from schemas import identity as i
from schemas import labs as lab
from schemas.roles import Role
from tests.ports import make_ports

ORG = uuid.UUID("00000000-0000-4000-8000-00000000000a")
AUTHOR = uuid.UUID("00000000-0000-4000-8000-0000000000a1")
MANAGER = uuid.UUID("00000000-0000-4000-8000-0000000000b1")
STUDENT = uuid.UUID("00000000-0000-4000-8000-0000000000c1")
OTHER = uuid.UUID("00000000-0000-4000-8000-0000000000c2")
PLAIN = uuid.UUID("00000000-0000-4000-8000-0000000000f1")  # a lesson with no lab
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

SPEC = c.LabSpec(
    environment="python",
    run_command=["python3", "main.py"],
    grading_command=["python3", "grade.py"],
    starter_files=[c.LabFile(path="main.py", content="def add(a, b):\n    return 0\n")],
    grading_files=[c.LabFile(path="grade.py", content="from main import add\nassert add(2, 3) == 5\n")],
)


def ctx(actor: UUID, *roles: Role) -> Context:
    return Context(actor, ORG, frozenset(roles))


def record(exit_code: int) -> lab.LabRunRecord:
    return lab.LabRunRecord(
        run_id=uuid4(),
        command=["python3", "grade.py"],
        exit_code=exit_code,
        duration_ms=120,
        output_bytes=0,
        output_sha256=hashlib.sha256(b"").hexdigest(),
        truncated=False,
        timed_out=False,
        at=NOW,
    )


async def published_lab(bus: CommandBus) -> tuple[UUID, UUID]:
    """A published course whose one lesson carries SPEC: (course id, lesson id)."""
    author, manager = ctx(AUTHOR, "instructor"), ctx(MANAGER, "course_manager")
    course = UUID((await bus.handle(c.CreateCourse(title="Python", cefr_level="B1", category="code"), author)).id)
    module = uuid4()
    await bus.handle(c.AddModule(course_id=course, title="Basics", module_id=module), author)
    lesson = uuid4()
    await bus.handle(c.AddLesson(course_id=course, module_id=module, title="Add", lesson_id=lesson), author)
    await bus.handle(lab.SetLessonLab(course_id=course, lesson_id=lesson, lab=SPEC), author)
    plain = PLAIN
    await bus.handle(c.AddLesson(course_id=course, module_id=module, title="Read", lesson_id=plain), author)
    text = c.LessonContent(objectives=["Read the notes"])
    await bus.handle(c.SetLessonContent(course_id=course, lesson_id=plain, content=text), author)
    review = (await bus.handle(c.SubmitCourse(course_id=course), author)).data["review_id"]
    await bus.handle(c.ApproveCourse(review_id=UUID(review)), manager)
    await bus.handle(c.PublishCourse(course_id=course), manager)
    return course, lesson


@pytest.fixture
def store() -> InMemoryEventStore:
    return InMemoryEventStore()


@pytest.fixture
def bus(store: InMemoryEventStore) -> CommandBus:
    return CommandBus(store, ROUTES, make_ports())


async def test_a_lab_is_versioned_with_the_lesson_content(bus: CommandBus, store: InMemoryEventStore) -> None:
    course_id, lesson_id = await published_lab(bus)
    events = [codec.decode(e.event_type, e.payload) for e in (await store.read_streams([course_id]))[course_id]]
    course = Course.replay(course_id, events)
    _, lesson = course.published_revision("0.1").lesson(lesson_id)
    assert lesson.content is not None and lesson.content.lab is not None
    assert lesson.content.lab.grading_files[0].path == "grade.py"
    assert lesson.content.lab.limits == LabLimits()


async def test_only_its_authors_give_a_lesson_a_lab(bus: CommandBus) -> None:
    course_id, lesson_id = await published_lab(bus)
    await bus.handle(c.StartRevision(course_id=course_id), ctx(AUTHOR, "instructor"))
    colleague = ctx(OTHER, "instructor")  # an instructor of the organisation, not an author
    with pytest.raises(PermissionDenied):
        await bus.handle(lab.SetLessonLab(course_id=course_id, lesson_id=lesson_id, lab=SPEC), colleague)
    quicker = msgspec.structs.replace(SPEC, limits=c.LabLimits(run_seconds=5))
    cmd = lab.SetLessonLab(course_id=course_id, lesson_id=lesson_id, lab=quicker)
    reply = await bus.handle(cmd, ctx(AUTHOR, "instructor"))
    assert reply.data == {"content_version": 2}


async def test_a_passing_grade_completes_the_lesson(bus: CommandBus, store: InMemoryEventStore) -> None:
    course_id, lesson_id = await published_lab(bus)
    student = ctx(STUDENT, "student")
    await bus.handle(c.Enrol(course_id=course_id), student)
    started = await bus.handle(lab.StartLab(course_id=course_id, lesson_id=lesson_id), student)
    session_id = UUID(started.id)
    assert session_id == lab_session_id(enrollment_id(course_id, STUDENT), lesson_id)
    await bus.handle(lab.WriteLabFiles(session_id=session_id, files=[c.LabFile(path="main.py", content="x")]), student)
    await bus.handle(lab.GradeLab(session_id=session_id), student)
    runner = ctx(STUDENT, "student", "lab_runner")
    failed = await bus.handle(lab.RecordLabGrade(session_id=session_id, run=record(1)), runner)
    assert failed.data["passed"] is False
    passed = await bus.handle(lab.RecordLabGrade(session_id=session_id, run=record(0)), runner)
    assert passed.data == {"status": "running", "round": 1, "passed": True, "lesson_completed": True}

    streams = await store.read_streams([session_id, enrollment_id(course_id, STUDENT)])
    session = LabSession.replay(session_id, [codec.decode(e.event_type, e.payload) for e in streams[session_id]])
    assert session.files["main.py"] == "x" and session.passed and len(session.runs) == 2
    enrollment_events = [codec.decode(e.event_type, e.payload) for e in streams[enrollment_id(course_id, STUDENT)]]
    assert lesson_id in Enrollment.replay(enrollment_id(course_id, STUDENT), enrollment_events).completed_lessons


async def test_only_the_runner_records_what_a_sandbox_did(bus: CommandBus) -> None:
    course_id, lesson_id = await published_lab(bus)
    student = ctx(STUDENT, "student")
    await bus.handle(c.Enrol(course_id=course_id), student)
    session_id = UUID((await bus.handle(lab.StartLab(course_id=course_id, lesson_id=lesson_id), student)).id)
    with pytest.raises(PermissionDenied, match="lab_runner"):
        await bus.handle(lab.RecordLabGrade(session_id=session_id, run=record(0)), student)


async def test_another_student_cannot_use_a_session(bus: CommandBus) -> None:
    course_id, lesson_id = await published_lab(bus)
    await bus.handle(c.Enrol(course_id=course_id), ctx(STUDENT, "student"))
    session_id = UUID(
        (await bus.handle(lab.StartLab(course_id=course_id, lesson_id=lesson_id), ctx(STUDENT, "student"))).id
    )
    with pytest.raises(PermissionDenied):
        await bus.handle(lab.RunLab(session_id=session_id), ctx(OTHER, "student"))
    # A trainer may once they train the student's cohort; an organisation admin may.
    trainer = await _trainer(bus)
    with pytest.raises(errors.EnrollmentNotFound):
        await bus.handle(lab.RunLab(session_id=session_id), ctx(trainer, "trainer"))
    manager = ctx(MANAGER, "course_manager")
    cohort = UUID((await bus.handle(c.CreateCohort(course_id=course_id, name="K", starts_on=NOW.date()), manager)).id)
    await bus.handle(c.AssignTrainer(cohort_id=cohort, trainer_id=trainer), manager)
    await bus.handle(c.AddToCohort(cohort_id=cohort, student_id=STUDENT), manager)
    await bus.handle(lab.RunLab(session_id=session_id), ctx(trainer, "trainer"))
    await bus.handle(lab.RunLab(session_id=session_id), ctx(OTHER, "org_admin"))


async def test_an_expiry_is_told_once_per_idle_period(bus: CommandBus, store: InMemoryEventStore) -> None:
    """`WarnLabExpiry` (the runner's alone) records LabSessionExpiring once; told again it
    changes nothing until the session is used (a run, files, a resume), which begins a new idle
    period; a stopped session is not told."""
    course_id, lesson_id = await published_lab(bus)
    student = ctx(STUDENT, "student")
    await bus.handle(c.Enrol(course_id=course_id), student)
    session_id = UUID((await bus.handle(lab.StartLab(course_id=course_id, lesson_id=lesson_id), student)).id)
    warn = lab.WarnLabExpiry(session_id=session_id, stops_at=NOW)
    runner = ctx(STUDENT, "lab_runner")
    with pytest.raises(PermissionDenied, match="lab_runner"):
        await bus.handle(warn, student)
    assert (await bus.handle(warn, runner)).data["told"] is True
    assert (await bus.handle(warn, runner)).data["told"] is False
    await bus.handle(lab.RecordLabRun(session_id=session_id, run=record(0)), runner)
    assert (await bus.handle(warn, runner)).data["told"] is True
    await bus.handle(lab.PauseLab(session_id=session_id), student)
    assert (await bus.handle(warn, runner)).data["told"] is False  # pausing is no use
    await bus.handle(lab.ResumeLab(session_id=session_id), student)
    assert (await bus.handle(warn, runner)).data["told"] is True
    await bus.handle(lab.StopLab(session_id=session_id), student)
    assert (await bus.handle(warn, runner)).data["told"] is False
    types = [e.event_type for e in await store.read_stream(session_id)]
    assert types.count("LabSessionExpiring") == 3
    stored = await store.read_stream(session_id)
    told = [codec.decode(e.event_type, e.payload) for e in stored if e.event_type == "LabSessionExpiring"]
    assert all(isinstance(e, LabSession.Expiring) and e.stops_at == NOW for e in told)


async def _trainer(bus: CommandBus) -> UUID:
    """A registered user who is a trainer of ORG."""
    root = Context(UUID(int=1), UUID(int=0), frozenset({"platform_admin"}))
    await bus.handle(i.CreateOrganisation(name="Org", org_id=ORG), root)
    anyone = Context(UUID(int=0), UUID(int=0), frozenset({"anyone"}))
    made = await bus.handle(i.RegisterUser(email="t@example.com", password="correct horse battery", name="T"), anyone)
    await bus.handle(i.AddMember(org_id=ORG, email="t@example.com", roles=["trainer"]), root)
    return UUID(made.id)


async def test_lifecycle_refuses_out_of_order_requests(bus: CommandBus) -> None:
    course_id, lesson_id = await published_lab(bus)
    student = ctx(STUDENT, "student")
    await bus.handle(c.Enrol(course_id=course_id), student)
    session_id = UUID((await bus.handle(lab.StartLab(course_id=course_id, lesson_id=lesson_id), student)).id)
    with pytest.raises(errors.LabSessionState):
        await bus.handle(lab.StartLab(course_id=course_id, lesson_id=lesson_id), student)
    with pytest.raises(errors.LabSessionState):
        await bus.handle(lab.ResumeLab(session_id=session_id), student)
    await bus.handle(lab.PauseLab(session_id=session_id), student)
    with pytest.raises(errors.LabSessionState):
        await bus.handle(lab.RunLab(session_id=session_id), student)
    await bus.handle(lab.ResumeLab(session_id=session_id), student)
    stopped = await bus.handle(lab.StopLab(session_id=session_id), student)
    assert stopped.data["status"] == "stopped"
    again = await bus.handle(lab.StartLab(course_id=course_id, lesson_id=lesson_id), student)
    assert again.data["round"] == 2


async def test_a_lesson_without_a_lab_has_no_session(bus: CommandBus) -> None:
    course_id, _ = await published_lab(bus)
    student = ctx(STUDENT, "student")
    await bus.handle(c.Enrol(course_id=course_id), student)
    with pytest.raises(errors.LessonHasNoLab):
        await bus.handle(lab.StartLab(course_id=course_id, lesson_id=PLAIN), student)
    with pytest.raises(errors.LessonNotFound):
        await bus.handle(lab.StartLab(course_id=course_id, lesson_id=uuid4()), student)


def spec(**changes: object) -> LabSpec:
    base = LabSpec("python", ("python3", "main.py"), grading_command=("python3", "grade.py"))
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "bad",
    [
        spec(starter_files=(LabFile("../etc/passwd", ""),)),
        spec(starter_files=(LabFile("/abs.py", ""),)),
        spec(starter_files=(LabFile("a/../../b", ""),)),
        spec(starter_files=(LabFile("a.py", ""), LabFile("a.py", ""))),
        spec(starter_files=(LabFile("big.py", "x" * 300_000),)),
        spec(grading_command=()),
        spec(limits=LabLimits(memory_mb=1)),
        spec(limits=LabLimits(run_seconds=0)),
        spec(environment="cobol"),
    ],
)
def test_a_lab_spec_a_student_could_not_use_safely_is_refused(bad: LabSpec) -> None:
    with pytest.raises(errors.InvalidLab):
        bad.validate()


def test_files_written_outside_the_work_dir_are_refused() -> None:
    session = LabSession.blank(uuid4())
    session.start(
        enrollment_id=uuid4(),
        course_id=uuid4(),
        lesson_id=uuid4(),
        student_id=STUDENT,
        org_id=ORG,
        revision="0.1",
        spec=spec(),
        at=NOW,
    )
    with pytest.raises(errors.InvalidLab):
        session.write_files((LabFile("../../x", "boom"),), NOW)
    session.write_files((LabFile("pkg/mod.py", "ok"),), NOW)
    assert session.files == {"pkg/mod.py": "ok"}
