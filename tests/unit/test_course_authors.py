"""Authorship of a course: its author, co-authors added and removed as events, no self-approval."""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain import errors
from domain.course import Course
from tests.unit import builders as b

COLLEAGUE = uuid4()


def test_the_creator_is_the_author_and_co_authors_join_through_events() -> None:
    course = b.draft()
    course.collect()
    assert course.authors == {b.AUTHOR}
    course.add_co_author(COLLEAGUE)
    assert course.collect() == [Course.CoAuthorAdded(COLLEAGUE)]
    assert course.authors == {b.AUTHOR, COLLEAGUE} and course.co_authors == {COLLEAGUE}
    course.add_co_author(COLLEAGUE)
    course.add_co_author(b.AUTHOR)
    assert course.pending == []  # nothing changes for someone who writes it already
    course.remove_co_author(COLLEAGUE)
    assert course.collect() == [Course.CoAuthorRemoved(COLLEAGUE)]
    assert course.authors == {b.AUTHOR}


def test_replay_rebuilds_the_authors() -> None:
    course = b.draft()
    course.add_co_author(COLLEAGUE)
    replayed = Course.replay(course.id, course.collect())
    assert replayed.authors == {b.AUTHOR, COLLEAGUE}


def test_the_author_cannot_be_removed_nor_a_stranger() -> None:
    course = b.draft()
    course.collect()
    with pytest.raises(errors.InvalidCourse):
        course.remove_co_author(b.AUTHOR)
    with pytest.raises(errors.CoAuthorNotFound):
        course.remove_co_author(COLLEAGUE)
    assert course.pending == []


def test_no_author_decides_on_their_own_course() -> None:
    course, review_id = b.in_review()
    course.add_co_author(COLLEAGUE)
    course.collect()
    with pytest.raises(errors.SelfApproval):
        course.approve(review_id, COLLEAGUE)
    with pytest.raises(errors.SelfApproval):
        course.reject(review_id, COLLEAGUE, "I disagree with myself")
    assert course.status == "in_review" and course.pending == []
    course.approve(review_id, b.REVIEWER)
    assert course.status == "approved"


def test_a_deleted_draft_is_not_found_by_anyone() -> None:
    course = b.deleted()
    with pytest.raises(errors.CourseNotFound):
        course.add_co_author(COLLEAGUE)
    with pytest.raises(errors.CourseNotFound):
        course.edit_details(b.details(title="Back"))
