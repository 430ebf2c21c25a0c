"""The Course aggregate from submission on: review, publication, archive, delete, revisions."""

from __future__ import annotations

import copy
from uuid import uuid4

import pytest

from domain import errors
from domain.course import Course
from tests.unit import builders as b

# -- submit, approve, reject -----------------------------------------------------------------


def test_a_course_with_content_is_submitted_for_review() -> None:
    course = b.with_lesson()[0]
    course.collect()
    review_id = uuid4()
    course.submit(review_id)
    (event,) = course.collect()
    assert event == Course.Submitted(review_id, "0.1")
    assert (course.status, course.review_id) == ("in_review", review_id)


def test_submit_needs_a_module() -> None:
    with pytest.raises(errors.CourseIncomplete):
        b.draft().submit(uuid4())


def test_submit_needs_a_lesson_in_a_module() -> None:
    course, _ = b.with_modules(2)
    with pytest.raises(errors.CourseIncomplete):
        course.submit(uuid4())


def test_submit_needs_a_lesson_with_content() -> None:
    course, (module,) = b.with_modules(1)
    course.add_lesson(module, uuid4(), "L", 10)
    with pytest.raises(errors.CourseIncomplete):
        course.submit(uuid4())
    assert course.status == "draft"


def test_one_lesson_with_content_is_enough_to_submit() -> None:
    course, module, _ = b.with_lesson()
    course.add_lesson(module, uuid4(), "Empty for now", 10)
    course.add_module(uuid4(), "Later")
    course.submit(uuid4())
    assert course.status == "in_review"


@pytest.mark.parametrize("state", ["in_review", "approved", "published", "archived"])
def test_submit_only_from_draft_or_rejected(state: str) -> None:
    course = b.STATES[state]()
    with pytest.raises(errors.CourseNotSubmittable):
        course.submit(uuid4())


def test_a_rejected_course_is_resubmitted_and_its_feedback_cleared() -> None:
    course = b.rejected()
    assert course.feedback == "add a summary"
    second = uuid4()
    course.submit(second)
    assert (course.status, course.review_id, course.feedback) == ("in_review", second, None)


def test_the_reviewer_approves_a_course_in_review() -> None:
    course, review_id = b.in_review()
    course.collect()
    course.approve(review_id, b.REVIEWER)
    assert course.collect() == [Course.Approved(review_id, b.REVIEWER)]
    assert course.status == "approved"


def test_the_author_cannot_approve_their_own_course() -> None:
    course, review_id = b.in_review()
    course.collect()
    with pytest.raises(errors.SelfApproval):
        course.approve(review_id, b.AUTHOR)
    assert course.status == "in_review" and course.pending == []


def test_rejecting_needs_feedback_and_records_it() -> None:
    course, review_id = b.in_review()
    with pytest.raises(errors.InvalidCourse):
        course.reject(review_id, b.REVIEWER, "  ")
    assert course.status == "in_review"
    course.reject(review_id, b.REVIEWER, "needs a summary")
    assert (course.status, course.feedback) == ("rejected", "needs a summary")


def test_a_rejection_may_name_lessons_of_the_course_to_regenerate() -> None:
    course, review_id = b.in_review()
    lesson_id = course.modules[0].lessons[0].id
    recorded = len(course.pending)
    with pytest.raises(errors.LessonNotFound):
        course.reject(review_id, b.REVIEWER, "rewrite it", (uuid4(),))
    with pytest.raises(errors.InvalidCourse):
        course.reject(review_id, b.REVIEWER, "rewrite it", (lesson_id, lesson_id))
    assert course.status == "in_review" and len(course.pending) == recorded
    course.reject(review_id, b.REVIEWER, "rewrite it", (lesson_id,))
    (rejected,) = course.pending[-1:]
    assert isinstance(rejected, Course.Rejected) and rejected.regenerate == (lesson_id,)


def test_approve_and_reject_name_the_open_review() -> None:
    course, _ = b.in_review()
    with pytest.raises(errors.ReviewClosed):
        course.approve(uuid4(), b.REVIEWER)
    with pytest.raises(errors.ReviewClosed):
        course.reject(uuid4(), b.REVIEWER, "no")
    assert course.status == "in_review"


@pytest.mark.parametrize("state", ["draft", "approved", "rejected", "published", "archived"])
def test_approve_and_reject_only_in_review(state: str) -> None:
    course = b.STATES[state]()
    review_id = course.review_id or uuid4()
    with pytest.raises(errors.ReviewClosed):
        course.approve(review_id, b.REVIEWER)
    with pytest.raises(errors.ReviewClosed):
        course.reject(review_id, b.REVIEWER, "no")


# -- publish, archive, delete ----------------------------------------------------------------


def test_an_approved_course_is_published_as_its_revision() -> None:
    course = b.approved()
    course.collect()
    course.publish()
    assert course.collect() == [Course.Published(0, 1)]
    assert (course.status, course.review_id) == ("published", None)
    assert course.live is not None
    assert (course.live.label, course.live.details) == ("0.1", course.details)
    assert course.live.modules == course.modules
    assert course.live.modules is not course.modules


@pytest.mark.parametrize("state", ["draft", "in_review", "rejected", "published", "archived"])
def test_publish_needs_approval(state: str) -> None:
    course = b.STATES[state]()
    with pytest.raises(errors.CourseNotApproved):
        course.publish()


def test_a_published_course_is_archived() -> None:
    course = b.published()
    course.collect()
    course.archive()
    assert b.recorded(course) == [Course.Archived]
    assert course.status == "archived"


@pytest.mark.parametrize("state", ["draft", "in_review", "approved", "rejected", "archived"])
def test_only_a_published_course_is_archived(state: str) -> None:
    course = b.STATES[state]()
    with pytest.raises(errors.CourseNotPublished):
        course.archive()


def test_a_never_published_draft_is_deleted() -> None:
    course = b.with_lesson()[0]
    course.collect()
    course.delete()
    assert b.recorded(course) == [Course.Deleted]
    assert course.status == "deleted"


@pytest.mark.parametrize("state", ["in_review", "approved", "rejected", "published", "archived"])
def test_only_drafts_are_deleted(state: str) -> None:
    course = b.STATES[state]()
    with pytest.raises(errors.CourseNotDeletable):
        course.delete()


def test_a_draft_of_a_new_revision_of_a_published_course_is_not_deletable() -> None:
    course = b.published()
    course.start_revision("minor")
    assert course.status == "draft"
    with pytest.raises(errors.CourseNotDeletable):
        course.delete()


# -- revisions -------------------------------------------------------------------------------


def test_a_minor_revision_counts_up_the_minor_number() -> None:
    course = b.published()
    course.collect()
    assert course.start_revision("minor") == "0.2"
    assert course.collect() == [Course.RevisionStarted(0, 2, "minor")]
    assert (course.status, course.revision) == ("draft", "0.2")


def test_a_major_revision_counts_up_the_major_and_resets_the_minor_number() -> None:
    course = b.published()
    assert course.start_revision("major") == "1.0"
    b.published(course)
    assert course.live is not None and course.live.label == "1.0"
    assert course.start_revision("minor") == "1.1"
    b.published(course)
    assert course.start_revision("major") == "2.0"


def test_a_resubmitted_revision_names_its_number() -> None:
    course = b.published()
    course.start_revision("major")
    course.collect()
    review_id = uuid4()
    course.submit(review_id)
    assert course.collect() == [Course.Submitted(review_id, "1.0")]


def test_a_revision_starts_only_from_a_published_course() -> None:
    with pytest.raises(errors.CourseNotPublished):
        b.with_lesson()[0].start_revision("minor")
    with pytest.raises(errors.CourseNotPublished):
        b.approved().start_revision("minor")
    with pytest.raises(errors.CourseNotPublished):
        b.archived().start_revision("minor")


@pytest.mark.parametrize("stage", ["draft", "in_review", "approved", "rejected"])
def test_one_revision_at_a_time(stage: str) -> None:
    course = b.published()
    course.start_revision("minor")
    if stage == "in_review":
        b.in_review(course)
    elif stage == "approved":
        b.approved(course)
    elif stage == "rejected":
        b.rejected(course)
    assert course.status == stage
    with pytest.raises(errors.RevisionInProgress):
        course.start_revision("major")


def test_edits_to_the_working_copy_leave_the_published_revision_unchanged() -> None:
    course = b.published()
    assert course.live is not None
    live_before = copy.deepcopy(course.live)
    module = course.modules[0]
    lesson = module.lessons[0]

    course.start_revision("minor")
    course.edit_details(b.details(title="Forklift safety, revised"))
    course.rename_module(module.id, "Basics, revised")
    course.edit_lesson(lesson.id, "Checks, revised", 40)
    course.set_content(lesson.id, b.text("revised"))
    course.add_lesson(module.id, uuid4(), "New lesson", 10)
    course.add_module(uuid4(), "New module", 0)

    assert course.live == live_before
    assert course.live.modules[0].lessons[0].versions == [b.text()]
    assert course.details is not None and course.details.title == "Forklift safety, revised"
    assert course.module(module.id).title == "Basics, revised"

    course.remove_module(module.id)
    assert course.live == live_before


def test_publishing_the_next_revision_replaces_the_live_one() -> None:
    course = b.published()
    module = course.modules[0]
    course.start_revision("minor")
    course.rename_module(module.id, "Basics, revised")
    b.published(course)
    assert course.live is not None
    assert course.live.label == "0.2"
    assert course.live.modules[0].title == "Basics, revised"
    assert course.live.lesson(module.lessons[0].id)[0].title == "Basics, revised"


def test_every_published_revision_stays_as_it_was_published() -> None:
    course = b.published()
    removed = course.modules[0].lessons[0].id
    course.start_revision("minor")
    added = uuid4()
    course.add_lesson(course.modules[0].id, added, "Added in 0.2", 10)
    course.set_content(added, b.text())
    course.remove_lesson(removed)
    b.published(course)
    assert course.published_revision("0.1").lesson(removed)[1].id == removed
    with pytest.raises(errors.LessonNotFound):
        course.published_revision("0.2").lesson(removed)
    with pytest.raises(errors.CourseNotPublished):
        course.published_revision("0.3")


def test_a_lesson_missing_from_the_published_revision_is_not_found_there() -> None:
    course = b.published()
    course.start_revision("minor")
    new = uuid4()
    course.add_lesson(course.modules[0].id, new, "Added later", 10)
    assert course.live is not None
    with pytest.raises(errors.LessonNotFound):
        course.live.lesson(new)


# -- capped and uncapped ---------------------------------------------------------------------


def test_before_publication_a_course_may_switch_between_capped_and_uncapped() -> None:
    course = b.draft(capacity=10)
    course.edit_details(b.details(capacity=None))
    course.edit_details(b.details(capacity=5))
    assert course.details is not None and course.details.capacity == 5


def test_after_publication_a_capped_course_stays_capped() -> None:
    course = b.published(b.with_lesson(b.draft(capacity=10))[0])
    course.start_revision("minor")
    course.collect()
    with pytest.raises(errors.InvalidCourse, match="capped"):
        course.edit_details(b.details(capacity=None))
    course.edit_details(b.details(capacity=20))  # another capacity is fine
    assert course.details is not None and course.details.capacity == 20


def test_after_publication_an_uncapped_course_stays_uncapped() -> None:
    course = b.published()
    course.start_revision("minor")
    with pytest.raises(errors.InvalidCourse, match="capped"):
        course.edit_details(b.details(capacity=30))
    assert course.details == b.details()


# -- replay ----------------------------------------------------------------------------------


def test_replaying_the_history_of_a_full_lifecycle_gives_the_same_course() -> None:
    course = b.published()
    course.start_revision("major")
    course.set_content(course.modules[0].lessons[0].id, b.text("v2"))
    course.restore_content(course.modules[0].lessons[0].id, 1)
    b.rejected(course)
    history = course.collect()
    again = Course.replay(course.id, history, last_position=42)
    assert again.version == course.version == len(history)
    assert again.stored_version == len(history) and again.last_position == 42
    assert again.pending == []
    assert vars(again) | {"stored_version": 0, "last_position": 0} == vars(course)
