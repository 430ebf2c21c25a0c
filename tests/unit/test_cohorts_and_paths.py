"""Cohorts, trainers' feedback, archived enrolments, unpublished courses and learning paths: the
domain's rules (no I/O)."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import errors
from domain.cohort import Cohort
from domain.course import Course
from domain.enrollment import Enrollment
from domain.path import LearningPath, PathRequirements, Step, path_requirements_id
from tests.unit import builders as b
from tests.unit.builders import Outline, at

START = date(2026, 2, 1)


def enrolled(outline: Outline) -> Enrollment:
    e = b.enrolled(outline)
    e.collect()
    return e


# -- cohorts ---------------------------------------------------------------------------------


def test_a_cohort_names_its_course_start_and_trainers() -> None:
    cohort, course, trainer = Cohort.blank(uuid4()), uuid4(), uuid4()
    cohort.create(course, b.ORG, " Spring ", START)
    cohort.assign_trainer(trainer)
    cohort.assign_trainer(trainer)  # once is enough
    assert cohort.collect() == [Cohort.Created(course, b.ORG, "Spring", START), Cohort.TrainerAssigned(trainer)]
    assert cohort.trains(trainer) and not cohort.trains(uuid4())
    cohort.unassign_trainer(trainer)
    assert not cohort.trains(trainer)
    with pytest.raises(errors.TrainerNotAssigned):
        cohort.unassign_trainer(trainer)
    with pytest.raises(errors.CohortAlreadyExists):
        cohort.create(course, b.ORG, "Again", START)


def test_a_cohort_needs_a_name() -> None:
    with pytest.raises(errors.InvalidCohort):
        Cohort.blank(uuid4()).create(uuid4(), b.ORG, "  ", START)


def test_an_enrolment_is_in_one_cohort_at_most_and_keeps_it_across_rounds() -> None:
    e, first, second = enrolled(Outline()), uuid4(), uuid4()
    e.join_cohort(first)
    e.join_cohort(first)  # already there: nothing changes
    assert e.collect() == [Enrollment.JoinedCohort(first)]
    with pytest.raises(errors.AlreadyInCohort):
        e.join_cohort(second)
    with pytest.raises(errors.NotInCohort):
        e.leave_cohort(second)
    e.drop("later", at(1))
    assert e.outline
    e.enrol(e.course_id, b.STUDENT, b.ORG, "0.1", e.outline, at(2))  # type: ignore[arg-type]
    assert e.cohort_id == first
    e.leave_cohort(first)
    e.join_cohort(second)
    assert e.cohort_id == second


def test_a_stranger_enrolment_joins_no_cohort() -> None:
    with pytest.raises(errors.EnrollmentNotFound):
        Enrollment.blank(uuid4()).join_cohort(uuid4())


def test_feedback_is_on_a_lesson_of_the_enrolment_and_has_a_text() -> None:
    outline = Outline()
    e, trainer = enrolled(outline), uuid4()
    e.give_feedback(uuid4(), trainer, outline.l1, "quiz", " Good work ", at(1))
    (given_,) = e.collect()
    assert isinstance(given_, Enrollment.FeedbackGiven)
    assert (given_.lesson_id, given_.assessment_id, given_.text) == (outline.l1, "quiz", "Good work")
    assert [f.trainer_id for f in e.feedback] == [trainer]
    with pytest.raises(errors.LessonNotFound):
        e.give_feedback(uuid4(), trainer, uuid4(), None, "Elsewhere", at(2))
    with pytest.raises(errors.InvalidFeedback):
        e.give_feedback(uuid4(), trainer, outline.l1, None, "   ", at(2))


def test_only_a_completed_enrolment_is_archived_and_it_comes_back() -> None:
    outline = Outline()
    e = enrolled(outline)
    with pytest.raises(errors.EnrollmentNotArchivable):
        e.archive(at(1))
    for i, lesson in enumerate((outline.l1, outline.l2, outline.l3)):
        e.complete_lesson(lesson, at(2 + i))
    e.collect()
    e.archive(at(9))
    e.archive(at(10))  # hidden already
    assert e.collect() == [Enrollment.Archived(at(9))]
    e.unarchive(at(11))
    e.unarchive(at(12))
    assert e.collect() == [Enrollment.Unarchived(at(11))]
    assert not e.archived


# -- unpublish -------------------------------------------------------------------------------


def test_an_unpublished_course_closes_to_enrolment_and_publish_relists_it() -> None:
    course = b.published()
    course.collect()
    assert course.open_for_enrolment
    course.unpublish()
    course.unpublish()  # out already
    assert course.collect() == [Course.Unpublished()]
    assert not course.open_for_enrolment and course.live is not None
    course.publish()
    assert course.collect() == [Course.Republished()] and course.open_for_enrolment


def test_an_unpublished_course_is_archived_and_stays_out() -> None:
    course = b.published()
    course.unpublish()
    course.archive()
    with pytest.raises(errors.CourseNotApproved):
        course.publish()
    assert not course.open_for_enrolment


@pytest.mark.parametrize("state", ["draft", "in_review", "approved", "rejected", "archived"])
def test_only_a_published_course_is_unpublished(state: str) -> None:
    with pytest.raises(errors.CourseNotPublished):
        b.STATES[state]().unpublish()


# -- learning paths --------------------------------------------------------------------------


def test_a_path_requires_only_courses_of_earlier_steps() -> None:
    a, c1, c2 = uuid4(), uuid4(), uuid4()
    path = LearningPath.blank(uuid4())
    with pytest.raises(errors.InvalidLearningPath):
        path.create(b.ORG, "Forklifts", "", (Step(a, (c1,)), Step(c1)))
    with pytest.raises(errors.InvalidLearningPath):
        path.create(b.ORG, "Forklifts", "", (Step(a), Step(a)))
    with pytest.raises(errors.InvalidLearningPath):
        path.create(b.ORG, "Forklifts", "", ())
    path.create(b.ORG, "Forklifts", "", (Step(a), Step(c1, (a,)), Step(c2, (a, c1))))
    assert path.course_ids == (a, c1, c2)


def test_path_requirements_are_the_union_over_paths_and_a_path_can_take_them_back() -> None:
    course, a, c = uuid4(), uuid4(), uuid4()
    p1, p2 = uuid4(), uuid4()
    req = PathRequirements.blank(path_requirements_id(b.ORG, course))
    req.set(b.ORG, course, p1, (a,))
    req.set(b.ORG, course, p2, (a, c))
    req.set(b.ORG, course, p2, (a, c))  # no change
    assert len(req.collect()) == 2
    assert req.prerequisites == (a, c)
    req.set(b.ORG, course, p2, ())
    assert req.prerequisites == (a,)
    assert path_requirements_id(b.ORG, course) != path_requirements_id(uuid4(), course)


@given(st.lists(st.lists(st.integers(0, 9), max_size=4), min_size=1, max_size=8))
def test_a_valid_path_never_requires_a_later_or_missing_course(requires: list[list[int]]) -> None:
    ids = [uuid4() for _ in requires]
    steps = tuple(Step(ids[i], tuple(dict.fromkeys(ids[j] for j in r if j < len(ids)))) for i, r in enumerate(requires))
    path = LearningPath.blank(uuid4())
    try:
        path.create(b.ORG, "P", "", steps)
    except errors.InvalidLearningPath:
        assert any(r not in ids[:i] for i, s in enumerate(steps) for r in s.requires)
        return
    for i, s in enumerate(path.steps):
        assert set(s.requires) <= set(ids[:i])
