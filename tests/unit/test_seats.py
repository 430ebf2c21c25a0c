"""Seats of a capped course: never more holders than seats; a release frees a seat."""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain import errors
from domain.seats import CourseSeats, seats_id


def opened(capacity: int) -> CourseSeats:
    seats = CourseSeats.blank(seats_id(uuid4()))
    seats.open(uuid4(), capacity)
    seats.collect()
    return seats


def test_the_seats_stream_of_a_course_is_always_the_same() -> None:
    course = uuid4()
    assert seats_id(course) == seats_id(course) != seats_id(uuid4())


def test_opening_records_the_capacity_once() -> None:
    seats = CourseSeats.blank(uuid4())
    course = uuid4()
    seats.open(course, 3)
    assert seats.collect() == [CourseSeats.Opened(course, 3)]
    assert (seats.course_id, seats.capacity, seats.free) == (course, 3, 3)
    seats.open(course, 3)
    assert seats.pending == []


def test_reopening_with_another_capacity_changes_it() -> None:
    seats = opened(3)
    seats.open(uuid4(), 5)
    assert seats.collect() == [CourseSeats.CapacityChanged(5)]
    assert (seats.capacity, seats.free) == (5, 5)


def test_seats_are_taken_until_none_is_free() -> None:
    seats = opened(2)
    a, b, c = uuid4(), uuid4(), uuid4()
    seats.take(a)
    seats.take(b)
    assert seats.collect() == [CourseSeats.Taken(a), CourseSeats.Taken(b)]
    assert (seats.holders, seats.free) == ({a, b}, 0)
    with pytest.raises(errors.CourseFull):
        seats.take(c)
    assert seats.pending == [] and seats.holders == {a, b}


def test_a_student_holds_one_seat_at_most() -> None:
    seats = opened(5)
    student = uuid4()
    seats.take(student)
    seats.collect()
    with pytest.raises(errors.AlreadyEnrolled):
        seats.take(student)
    assert (seats.pending, seats.free) == ([], 4)


def test_a_release_frees_a_seat_for_someone_else() -> None:
    seats = opened(1)
    first, second = uuid4(), uuid4()
    seats.take(first)
    seats.collect()
    seats.release(first)
    assert seats.collect() == [CourseSeats.Released(first)]
    assert seats.free == 1
    seats.take(second)
    assert seats.holders == {second}


def test_releasing_a_seat_not_held_records_nothing() -> None:
    seats = opened(1)
    seats.take(uuid4())
    seats.collect()
    seats.release(uuid4())
    assert seats.pending == [] and seats.free == 0


def test_seats_that_were_never_opened_are_all_taken() -> None:
    with pytest.raises(errors.CourseFull):
        CourseSeats.blank(uuid4()).take(uuid4())


def test_a_lower_capacity_lets_nobody_in_until_enough_seats_are_released() -> None:
    seats = opened(3)
    holders = [uuid4() for _ in range(3)]
    for h in holders:
        seats.take(h)
    seats.open(uuid4(), 1)
    assert seats.free == 0
    seats.release(holders[0])
    with pytest.raises(errors.CourseFull):
        seats.take(uuid4())
    seats.release(holders[1])
    with pytest.raises(errors.CourseFull):
        seats.take(uuid4())
    seats.release(holders[2])
    seats.take(uuid4())
    assert len(seats.holders) == 1


def test_replaying_the_seats_gives_the_same_holders() -> None:
    seats = CourseSeats.blank(uuid4())
    seats.open(uuid4(), 2)
    a, b = uuid4(), uuid4()
    seats.take(a)
    seats.take(b)
    seats.release(a)
    history = seats.collect()
    again = CourseSeats.replay(seats.id, history)
    assert (again.holders, again.capacity, again.version) == ({b}, 2, 4)
