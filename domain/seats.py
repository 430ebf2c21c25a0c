"""Seats of a capped course: the one stream every enrolment in that course must agree on."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from domain import errors
from domain.aggregate import Aggregate, Event
from domain.ids import name_id

_NS = UUID("6f1d7a52-3c1b-4d8e-9d4e-2a0b5c6e7f80")


def seats_id(course_id: UUID) -> UUID:
    """The seats stream of a course: the same id for every enrolment that asks."""
    return name_id(_NS, f"seats:{course_id}")


class CourseSeats(Aggregate):
    @dataclass(frozen=True)
    class Opened(Event):
        course_id: UUID
        capacity: int

    @dataclass(frozen=True)
    class CapacityChanged(Event):
        capacity: int

    @dataclass(frozen=True)
    class Taken(Event):
        student_id: UUID

    @dataclass(frozen=True)
    class Released(Event):
        student_id: UUID

    def _init_state(self) -> None:
        self.course_id: UUID | None = None
        self.capacity = 0
        self.holders: set[UUID] = set()

    @property
    def free(self) -> int:
        return max(0, self.capacity - len(self.holders))

    def open(self, course_id: UUID, capacity: int) -> None:
        if not self.exists:
            self._record(self.Opened(course_id, capacity))
        elif capacity != self.capacity:
            self._record(self.CapacityChanged(capacity))

    def take(self, student_id: UUID) -> None:
        if student_id in self.holders:
            raise errors.AlreadyEnrolled("the student already holds a seat")
        if not self.free:
            raise errors.CourseFull(f"all {self.capacity} seats are taken")
        self._record(self.Taken(student_id))

    def release(self, student_id: UUID) -> None:
        if student_id in self.holders:
            self._record(self.Released(student_id))

    def _on_Opened(self, e: Opened) -> None:
        self.course_id, self.capacity = e.course_id, e.capacity

    def _on_CapacityChanged(self, e: CapacityChanged) -> None:
        self.capacity = e.capacity

    def _on_Taken(self, e: Taken) -> None:
        self.holders.add(e.student_id)

    def _on_Released(self, e: Released) -> None:
        self.holders.discard(e.student_id)
