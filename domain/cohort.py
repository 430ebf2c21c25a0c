"""A cohort: a group of enrolments in one course that start together, and the trainers who
follow them.

The cohort holds its course, start date and trainers. Which enrolments belong to it is a fact
of each enrolment (`Enrollment.JoinedCohort`), so an enrolment is in one cohort at most and a
trainer's command about a student finds the cohort from the student's enrolment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

from domain import errors
from domain.aggregate import Aggregate, Event


class Cohort(Aggregate):
    @dataclass(frozen=True)
    class Created(Event):
        course_id: UUID
        org_id: UUID
        name: str
        starts_on: date

    @dataclass(frozen=True)
    class TrainerAssigned(Event):
        trainer_id: UUID

    @dataclass(frozen=True)
    class TrainerUnassigned(Event):
        trainer_id: UUID

    def _init_state(self) -> None:
        self.course_id: UUID | None = None
        self.org_id: UUID | None = None
        self.name = ""
        self.starts_on: date | None = None
        self.trainers: frozenset[UUID] = frozenset()

    def trains(self, user_id: UUID) -> bool:
        return user_id in self.trainers

    # -- decisions ---------------------------------------------------------------------------

    def create(self, course_id: UUID, org_id: UUID, name: str, starts_on: date) -> None:
        if self.exists:
            raise errors.CohortAlreadyExists(f"cohort {self.id} exists")
        if not name.strip():
            raise errors.InvalidCohort("a cohort needs a name")
        self._record(self.Created(course_id, org_id, name.strip(), starts_on))

    def assign_trainer(self, trainer_id: UUID) -> None:
        """Make `trainer_id` one of the cohort's trainers (nothing changes if they are)."""
        if trainer_id not in self.trainers:
            self._record(self.TrainerAssigned(trainer_id))

    def unassign_trainer(self, trainer_id: UUID) -> None:
        if trainer_id not in self.trainers:
            raise errors.TrainerNotAssigned(f"user {trainer_id} does not train cohort {self.id}")
        self._record(self.TrainerUnassigned(trainer_id))

    # -- state changes -----------------------------------------------------------------------

    def _on_Created(self, e: Created) -> None:
        self.course_id, self.org_id, self.name, self.starts_on = e.course_id, e.org_id, e.name, e.starts_on

    def _on_TrainerAssigned(self, e: TrainerAssigned) -> None:
        self.trainers = self.trainers | {e.trainer_id}

    def _on_TrainerUnassigned(self, e: TrainerUnassigned) -> None:
        self.trainers = self.trainers - {e.trainer_id}
