"""The Review aggregate: requested, assigned, commented, decided by the assigned reviewer only."""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain import errors
from domain.review import Comment, Review
from tests.unit import builders as b

OTHER_REVIEWER = uuid4()


def test_a_review_is_requested_for_a_course_revision() -> None:
    review = Review.blank(uuid4())
    course_id = uuid4()
    review.request(course_id, b.ORG, b.AUTHOR, "1.2", b.AUTHOR)
    assert review.collect() == [Review.Requested(course_id, b.ORG, b.AUTHOR, "1.2", b.AUTHOR)]
    assert (review.course_id, review.org_id, review.author_id) == (course_id, b.ORG, b.AUTHOR)
    assert (review.revision, review.decision, review.reviewer_id) == ("1.2", "open", None)


def test_a_review_is_requested_once() -> None:
    review = b.requested_review()
    review.collect()
    with pytest.raises(errors.Conflict):
        review.request(uuid4(), b.ORG, b.AUTHOR, "0.1", b.AUTHOR)
    assert review.pending == []


def test_a_review_that_does_not_exist_is_not_found() -> None:
    review = Review.blank(uuid4())
    with pytest.raises(errors.ReviewNotFound):
        review.assign(b.REVIEWER)
    with pytest.raises(errors.ReviewNotFound):
        review.approve(b.REVIEWER)
    with pytest.raises(errors.ReviewNotFound):
        review.comment(uuid4(), b.REVIEWER, None, "hi")


def test_a_reviewer_is_assigned_and_reassigning_the_same_one_records_nothing() -> None:
    review = b.requested_review()
    review.collect()
    review.assign(b.REVIEWER)
    assert review.collect() == [Review.ReviewerAssigned(b.REVIEWER)]
    review.assign(b.REVIEWER)
    assert review.pending == []
    review.assign(OTHER_REVIEWER)
    assert review.reviewer_id == OTHER_REVIEWER


def test_the_author_cannot_be_assigned_to_review_their_course() -> None:
    review = b.requested_review()
    review.collect()
    with pytest.raises(errors.SelfApproval):
        review.assign(b.AUTHOR)
    assert review.reviewer_id is None and review.pending == []


def test_comments_are_kept_in_order() -> None:
    review = b.requested_review()
    lesson, c1, c2 = uuid4(), uuid4(), uuid4()
    review.comment(c1, b.REVIEWER, lesson, "Lesson 2 needs a picture")
    review.comment(c2, b.AUTHOR, None, "Added")
    assert review.comments == [
        Comment(c1, b.REVIEWER, lesson, "Lesson 2 needs a picture"),
        Comment(c2, b.AUTHOR, None, "Added"),
    ]


def test_a_comment_needs_text() -> None:
    review = b.requested_review()
    with pytest.raises(errors.RuleViolation):
        review.comment(uuid4(), b.REVIEWER, None, " \n")
    assert review.comments == []


def test_the_assigned_reviewer_approves() -> None:
    review = b.requested_review()
    review.assign(b.REVIEWER)
    review.collect()
    review.approve(b.REVIEWER, "Well done")
    assert review.collect() == [Review.Approved(b.REVIEWER, "Well done")]
    assert (review.decision, review.feedback) == ("approved", "Well done")


def test_the_assigned_reviewer_rejects_with_feedback() -> None:
    review = b.requested_review()
    review.assign(b.REVIEWER)
    review.reject(b.REVIEWER, "Too short")
    assert (review.decision, review.reviewer_id, review.feedback) == (
        "rejected",
        b.REVIEWER,
        "Too short",
    )


def test_a_rejection_needs_feedback() -> None:
    review = b.requested_review()
    review.collect()
    with pytest.raises(errors.RuleViolation):
        review.reject(b.REVIEWER, "")
    assert review.decision == "open" and review.pending == []


@pytest.mark.parametrize("assigned", [False, True])
def test_the_author_cannot_approve_or_reject(assigned: bool) -> None:
    review = b.requested_review()
    if assigned:
        review.assign(b.REVIEWER)
    review.collect()
    with pytest.raises(errors.SelfApproval):
        review.approve(b.AUTHOR)
    with pytest.raises(errors.SelfApproval):
        review.reject(b.AUTHOR, "I changed my mind")
    assert review.decision == "open" and review.pending == []


def test_only_the_assigned_reviewer_decides() -> None:
    review = b.requested_review()
    review.assign(b.REVIEWER)
    review.collect()
    with pytest.raises(errors.ReviewerNotAssigned):
        review.approve(OTHER_REVIEWER)
    with pytest.raises(errors.ReviewerNotAssigned):
        review.reject(OTHER_REVIEWER, "no")
    assert review.decision == "open" and review.pending == []


def test_without_an_assigned_reviewer_another_member_may_decide() -> None:
    review = b.requested_review()
    review.approve(OTHER_REVIEWER)
    assert (review.decision, review.reviewer_id) == ("approved", OTHER_REVIEWER)


@pytest.mark.parametrize("decision", ["approved", "rejected"])
def test_a_decided_review_is_closed(decision: str) -> None:
    review = b.requested_review()
    review.assign(b.REVIEWER)
    if decision == "approved":
        review.approve(b.REVIEWER)
    else:
        review.reject(b.REVIEWER, "no")
    review.collect()
    with pytest.raises(errors.ReviewClosed):
        review.approve(b.REVIEWER)
    with pytest.raises(errors.ReviewClosed):
        review.reject(b.REVIEWER, "again")
    with pytest.raises(errors.ReviewClosed):
        review.assign(OTHER_REVIEWER)
    with pytest.raises(errors.ReviewClosed):
        review.comment(uuid4(), b.REVIEWER, None, "late")
    assert review.decision == decision and review.pending == []


def test_replaying_a_review_gives_the_same_state() -> None:
    review = b.requested_review()
    review.assign(b.REVIEWER)
    review.comment(uuid4(), b.REVIEWER, uuid4(), "fix")
    review.reject(b.REVIEWER, "fix it")
    history = review.collect()
    again = Review.replay(review.id, history)
    assert vars(again) | {"stored_version": 0} == vars(review)
