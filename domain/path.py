"""Learning paths: an ordered set of courses with prerequisites between them.

A path belongs to an organisation. Each step names a course and the earlier steps' courses a
student of that organisation must complete before enrolling in it. What a course requires
through every path of an organisation is one stream per (organisation, course),
`PathRequirements`, written in the same commit as the path: an enrolment reads it beside the
course's own prerequisites, without searching the paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from domain import errors
from domain.aggregate import Aggregate, Event
from domain.ids import name_id

_NS = UUID("3b0c2f8e-5a7d-4e61-9f2a-8d4c6b1e0a73")
MAX_STEPS = 50


def path_requirements_id(org_id: UUID, course_id: UUID) -> UUID:
    """The stream of what the paths of `org_id` require before `course_id`."""
    return name_id(_NS, f"path-requirements:{org_id}:{course_id}")


@dataclass(frozen=True)
class Step:
    course_id: UUID
    requires: tuple[UUID, ...] = ()  # courses of earlier steps


def _validate(title: str, steps: tuple[Step, ...]) -> None:
    if not title.strip():
        raise errors.InvalidLearningPath("a learning path needs a title")
    if not steps:
        raise errors.InvalidLearningPath("a learning path needs at least one course")
    if len(steps) > MAX_STEPS:
        raise errors.InvalidLearningPath(f"a learning path has at most {MAX_STEPS} courses")
    earlier: set[UUID] = set()
    for step in steps:
        if step.course_id in earlier:
            raise errors.InvalidLearningPath(f"course {step.course_id} is in the path twice")
        if len(set(step.requires)) != len(step.requires):
            raise errors.InvalidLearningPath(f"the prerequisites of course {step.course_id} repeat")
        later = [r for r in step.requires if r not in earlier]
        if later:
            raise errors.InvalidLearningPath(
                f"course {step.course_id} may require only courses earlier in the path, not {later[0]}"
            )
        earlier.add(step.course_id)


class LearningPath(Aggregate):
    @dataclass(frozen=True)
    class Created(Event):
        org_id: UUID
        title: str
        description: str
        steps: tuple[Step, ...]

    @dataclass(frozen=True)
    class Revised(Event):
        title: str
        description: str
        steps: tuple[Step, ...]

    def _init_state(self) -> None:
        self.org_id: UUID | None = None
        self.title = ""
        self.description = ""
        self.steps: tuple[Step, ...] = ()

    @property
    def course_ids(self) -> tuple[UUID, ...]:
        return tuple(s.course_id for s in self.steps)

    def create(self, org_id: UUID, title: str, description: str, steps: tuple[Step, ...]) -> None:
        if self.exists:
            raise errors.LearningPathExists(f"learning path {self.id} exists")
        _validate(title, steps)
        self._record(self.Created(org_id, title.strip(), description, steps))

    def revise(self, title: str, description: str, steps: tuple[Step, ...]) -> None:
        if not self.exists:
            raise errors.LearningPathNotFound(f"learning path {self.id} not found")
        _validate(title, steps)
        if (self.title, self.description, self.steps) != (title.strip(), description, steps):
            self._record(self.Revised(title.strip(), description, steps))

    def _on_Created(self, e: Created) -> None:
        self.org_id, self.title, self.description, self.steps = e.org_id, e.title, e.description, e.steps

    def _on_Revised(self, e: Revised) -> None:
        self.title, self.description, self.steps = e.title, e.description, e.steps


class PathRequirements(Aggregate):
    """What the learning paths of one organisation require before one course."""

    @dataclass(frozen=True)
    class Set(Event):
        org_id: UUID
        course_id: UUID
        path_id: UUID
        requires: tuple[UUID, ...]  # empty: the path requires nothing (any more) before it

    def _init_state(self) -> None:
        self.org_id: UUID | None = None
        self.course_id: UUID | None = None
        self.by_path: dict[UUID, tuple[UUID, ...]] = {}

    @property
    def prerequisites(self) -> tuple[UUID, ...]:
        """Every course some path requires first, each once, in the order the paths name them."""
        return tuple(dict.fromkeys(r for requires in self.by_path.values() for r in requires))

    def set(self, org_id: UUID, course_id: UUID, path_id: UUID, requires: tuple[UUID, ...]) -> None:
        if self.by_path.get(path_id, ()) != requires:
            self._record(self.Set(org_id, course_id, path_id, requires))

    def _on_Set(self, e: Set) -> None:
        self.org_id, self.course_id = e.org_id, e.course_id
        if e.requires:
            self.by_path[e.path_id] = e.requires
        else:
            self.by_path.pop(e.path_id, None)
