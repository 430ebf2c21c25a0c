"""Handlers of the learning-path commands: lay a path out, revise it. Each commit also writes
what the path requires before each of its courses (`domain.path.PathRequirements`), which is
what an enrolment checks."""

from __future__ import annotations

from uuid import UUID

from commands.bus import Decided
from commands.session import Session
from domain import errors
from domain.course import Course
from domain.path import LearningPath, PathRequirements, Step, path_requirements_id
from schemas import commands as c


def _steps(given: list[c.PathStep]) -> tuple[Step, ...]:
    """The steps; a step that names no prerequisites requires the step before it."""
    steps: list[Step] = []
    for i, step in enumerate(given):
        previous: tuple[UUID, ...] = (given[i - 1].course_id,) if i else ()
        requires = previous if step.requires is None else tuple(step.requires)
        steps.append(Step(step.course_id, requires))
    return tuple(steps)


async def _require_courses(s: Session, steps: tuple[Step, ...]) -> None:
    """Every course of the path exists and is the organisation's own or a public one."""
    await s.prefetch([(Course, step.course_id) for step in steps])
    for step in steps:
        course = await s.view(Course, step.course_id)
        public = course.live is not None and course.live.details.public
        if not course.exists or course.status == "deleted" or (course.org_id != s.ctx.org_id and not public):
            raise errors.CourseNotFound(f"course {course.id} not found")


async def _write_requirements(s: Session, path: LearningPath, before: tuple[Step, ...]) -> None:
    """Set what the path requires before each of its courses, and nothing any more before the
    courses it left."""
    assert path.org_id is not None
    now = {step.course_id: step.requires for step in path.steps}
    dropped = [step.course_id for step in before if step.course_id not in now]
    wanted = [*now, *dropped]
    streams = await s.load_many([(PathRequirements, path_requirements_id(path.org_id, cid)) for cid in wanted])
    for course_id, requirements in zip(wanted, streams, strict=True):
        requirements.set(path.org_id, course_id, path.id, now.get(course_id, ()))


def _path(path: LearningPath) -> Decided:
    return Decided(path, "learning_path", {"courses": [str(cid) for cid in path.course_ids]})


async def create_learning_path(cmd: c.CreateLearningPath, s: Session) -> Decided:
    path = await s.load(LearningPath, cmd.path_id) if cmd.path_id else s.track(LearningPath.blank(s.ports.ids.new_id()))
    if path.exists:
        raise errors.LearningPathExists(f"learning path {path.id} exists")
    steps = _steps(cmd.steps)
    path.create(s.ctx.org_id, cmd.title, cmd.description, steps)
    await _require_courses(s, steps)
    await _write_requirements(s, path, ())
    return _path(path)


async def revise_learning_path(cmd: c.ReviseLearningPath, s: Session) -> Decided:
    path = await s.existing(LearningPath, cmd.path_id)
    before = path.steps
    steps = _steps(cmd.steps)
    path.revise(cmd.title, cmd.description, steps)
    await _require_courses(s, steps)
    await _write_requirements(s, path, before)
    return _path(path)
