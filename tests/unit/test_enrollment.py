"""The Enrollment aggregate: enrol, complete lessons and modules, take quizzes, drop, come back."""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain import errors
from domain.enrollment import Enrollment, QuizAttempt, enrollment_id
from tests.unit import builders as b
from tests.unit.builders import Outline, at


@pytest.fixture
def outline() -> Outline:
    return Outline()


@pytest.fixture
def enrollment(outline: Outline) -> Enrollment:
    e = b.enrolled(outline)
    e.collect()
    return e


def test_the_stream_of_a_student_in_a_course_is_always_the_same() -> None:
    course, student = uuid4(), uuid4()
    assert enrollment_id(course, student) == enrollment_id(course, student)
    assert enrollment_id(course, student) != enrollment_id(course, uuid4())
    assert enrollment_id(course, student) != enrollment_id(student, course)


# -- enrol -----------------------------------------------------------------------------------


def test_enrolling_starts_round_one_on_the_course_outline(outline: Outline) -> None:
    e = Enrollment.blank(uuid4())
    course = uuid4()
    e.enrol(course, b.STUDENT, b.ORG, "1.0", outline.modules(), b.T0)
    assert b.recorded(e) == [Enrollment.Enrolled]
    assert (e.course_id, e.student_id, e.org_id) == (course, b.STUDENT, b.ORG)
    assert (e.status, e.round, e.revision, e.outline) == ("active", 1, "1.0", outline.modules())
    assert (e.enrolled_at, e.last_activity) == (b.T0, b.T0)
    assert (e.lesson_count, e.progress, e.active) == (3, 0.0, True)


def test_a_student_cannot_enrol_twice_while_active(enrollment: Enrollment, outline: Outline) -> None:
    with pytest.raises(errors.AlreadyEnrolled):
        enrollment.enrol(uuid4(), b.STUDENT, b.ORG, "0.1", outline.modules(), at(1))
    assert enrollment.pending == [] and enrollment.round == 1


def test_a_completed_course_must_be_dropped_before_retaking(enrollment: Enrollment, outline: Outline) -> None:
    for lesson in (outline.l1, outline.l2, outline.l3):
        enrollment.complete_lesson(lesson, at(1))
    assert enrollment.status == "completed"
    with pytest.raises(errors.AlreadyEnrolled):
        enrollment.enrol(uuid4(), b.STUDENT, b.ORG, "0.1", outline.modules(), at(2))


# -- lessons, modules, completion ------------------------------------------------------------


def test_completing_a_lesson_records_it_and_counts_progress(enrollment: Enrollment, outline: Outline) -> None:
    assert enrollment.complete_lesson(outline.l1, at(5)) is True
    assert enrollment.collect() == [Enrollment.LessonCompleted(outline.l1, outline.m1, at(5))]
    assert enrollment.completed_lessons == {outline.l1}
    assert enrollment.progress == pytest.approx(100 / 3)
    assert enrollment.last_activity == at(5)


def test_completing_a_lesson_twice_returns_false_and_records_nothing(enrollment: Enrollment, outline: Outline) -> None:
    enrollment.complete_lesson(outline.l1, at(1))
    version = enrollment.version
    enrollment.collect()
    assert enrollment.complete_lesson(outline.l1, at(2)) is False
    assert enrollment.pending == [] and enrollment.version == version
    assert enrollment.last_activity == at(1)


def test_a_lesson_outside_the_outline_is_not_found(enrollment: Enrollment) -> None:
    with pytest.raises(errors.LessonNotFound):
        enrollment.complete_lesson(uuid4(), at(1))
    assert enrollment.pending == []


def test_the_last_lesson_of_a_module_completes_the_module(enrollment: Enrollment, outline: Outline) -> None:
    enrollment.complete_lesson(outline.l1, at(1))
    assert b.recorded(enrollment) == [Enrollment.LessonCompleted]
    enrollment.complete_lesson(outline.l2, at(2))
    assert enrollment.collect() == [
        Enrollment.LessonCompleted(outline.l2, outline.m1, at(2)),
        Enrollment.ModuleCompleted(outline.m1, at(2)),
    ]
    assert enrollment.completed_modules == {outline.m1}
    assert enrollment.status == "active"


def test_the_last_lesson_completes_the_course_at_100_percent(enrollment: Enrollment, outline: Outline) -> None:
    enrollment.complete_lesson(outline.l3, at(1))
    enrollment.complete_lesson(outline.l1, at(2))
    assert enrollment.status == "active" and not enrollment.ever_completed
    enrollment.collect()
    enrollment.complete_lesson(outline.l2, at(3))
    assert b.recorded(enrollment) == [
        Enrollment.LessonCompleted,
        Enrollment.ModuleCompleted,
        Enrollment.Completed,
    ]
    assert (enrollment.status, enrollment.progress, enrollment.ever_completed) == (
        "completed",
        100.0,
        True,
    )
    assert enrollment.completed_modules == {outline.m1, outline.m2}
    assert enrollment.active
    # Still idempotent once completed.
    assert enrollment.complete_lesson(outline.l2, at(4)) is False
    assert enrollment.pending == []


def test_lessons_are_not_completed_without_an_active_enrolment(outline: Outline) -> None:
    blank = Enrollment.blank(uuid4())
    with pytest.raises(errors.NotEnrolled):
        blank.complete_lesson(outline.l1, at(1))
    dropped = b.enrolled(outline)
    dropped.drop("moved", at(1))
    with pytest.raises(errors.NotEnrolled):
        dropped.complete_lesson(outline.l1, at(2))


# -- quizzes ---------------------------------------------------------------------------------

QUIZ = b.quiz(
    "check",
    b.question("a", correct=(0,)),
    b.question("b", correct=(1, 2)),
    pass_mark=1.0,
    max_attempts=2,
)
RIGHT = {"a": (0,), "b": (1, 2)}
HALF = {"a": (0,), "b": (1,)}


def test_a_failed_quiz_is_recorded_and_does_not_complete_the_lesson(enrollment: Enrollment, outline: Outline) -> None:
    attempt = enrollment.submit_quiz(outline.l1, QUIZ, HALF, at(3))
    assert attempt == QuizAttempt(outline.l1, "check", 1, 1, 2, False, at(3))
    assert enrollment.collect() == [Enrollment.QuizSubmitted(outline.l1, "check", 1, HALF, 1, 2, False, at(3))]
    assert enrollment.completed_lessons == set() and enrollment.progress == 0.0


def test_passing_a_quiz_completes_its_lesson(enrollment: Enrollment, outline: Outline) -> None:
    attempt = enrollment.submit_quiz(outline.l1, QUIZ, RIGHT, at(3))
    assert (attempt.attempt, attempt.score, attempt.max_score, attempt.passed) == (1, 2, 2, True)
    assert b.recorded(enrollment) == [Enrollment.QuizSubmitted, Enrollment.LessonCompleted]
    assert enrollment.completed_lessons == {outline.l1}


def test_passing_a_quiz_of_a_completed_lesson_records_only_the_attempt(
    enrollment: Enrollment, outline: Outline
) -> None:
    enrollment.complete_lesson(outline.l1, at(1))
    enrollment.collect()
    enrollment.submit_quiz(outline.l1, QUIZ, RIGHT, at(2))
    assert b.recorded(enrollment) == [Enrollment.QuizSubmitted]


def test_passing_the_quiz_of_the_last_lesson_completes_the_course(enrollment: Enrollment, outline: Outline) -> None:
    enrollment.complete_lesson(outline.l1, at(1))
    enrollment.complete_lesson(outline.l2, at(2))
    enrollment.collect()
    enrollment.submit_quiz(outline.l3, QUIZ, RIGHT, at(3))
    assert b.recorded(enrollment) == [
        Enrollment.QuizSubmitted,
        Enrollment.LessonCompleted,
        Enrollment.ModuleCompleted,
        Enrollment.Completed,
    ]
    assert enrollment.status == "completed"


def test_the_pass_mark_decides(enrollment: Enrollment, outline: Outline) -> None:
    lenient = b.quiz("lenient", b.question("a"), b.question("b"), pass_mark=0.5)
    assert enrollment.submit_quiz(outline.l1, lenient, {"a": (0,)}, at(1)).passed is True
    strict = b.quiz("strict", b.question("a"), b.question("b"), pass_mark=0.51)
    assert enrollment.submit_quiz(outline.l2, strict, {"a": (0,)}, at(2)).passed is False


def test_attempts_are_counted_and_capped(enrollment: Enrollment, outline: Outline) -> None:
    assert enrollment.submit_quiz(outline.l1, QUIZ, {}, at(1)).attempt == 1
    assert enrollment.submit_quiz(outline.l1, QUIZ, RIGHT, at(2)).attempt == 2
    enrollment.collect()
    with pytest.raises(errors.RuleViolation, match="attempts"):
        enrollment.submit_quiz(outline.l1, QUIZ, RIGHT, at(3))
    assert enrollment.pending == [] and len(enrollment.attempts("check")) == 2


def test_without_a_cap_attempts_go_on(enrollment: Enrollment, outline: Outline) -> None:
    open_quiz = b.quiz("open", b.question("a"), max_attempts=None)
    for n in range(1, 6):
        assert enrollment.submit_quiz(outline.l1, open_quiz, {"a": (1,)}, at(n)).attempt == n


def test_the_same_quiz_id_in_two_lessons_counts_attempts_per_lesson(enrollment: Enrollment, outline: Outline) -> None:
    # Assessment ids are unique within a lesson's content only; "check" may be in every lesson.
    once = b.quiz("check", b.question("a"), max_attempts=1)
    assert enrollment.submit_quiz(outline.l1, once, {"a": (1,)}, at(1)).attempt == 1
    attempt = enrollment.submit_quiz(outline.l2, once, {"a": (0,)}, at(2))
    assert (attempt.lesson_id, attempt.attempt, attempt.passed) == (outline.l2, 1, True)
    with pytest.raises(errors.RuleViolation):
        enrollment.submit_quiz(outline.l1, once, {"a": (0,)}, at(3))
    assert [a.attempt for a in enrollment.attempts("check", outline.l1)] == [1]
    assert len(enrollment.attempts("check")) == 2


@pytest.mark.parametrize(
    "answers",
    [{"zzz": (0,)}, {"a": (0,), "b": (1, 2), "c": (0,)}, {"a": (7,)}],
    ids=["unknown", "one-unknown", "out-of-range"],
)
def test_invalid_answers_are_refused_and_cost_no_attempt(
    enrollment: Enrollment, outline: Outline, answers: dict[str, tuple[int, ...]]
) -> None:
    with pytest.raises(errors.InvalidAnswers):
        enrollment.submit_quiz(outline.l1, QUIZ, answers, at(1))
    assert enrollment.pending == [] and enrollment.quiz_attempts == []


def test_a_quiz_of_a_lesson_outside_the_outline_is_not_found(enrollment: Enrollment) -> None:
    with pytest.raises(errors.LessonNotFound):
        enrollment.submit_quiz(uuid4(), QUIZ, RIGHT, at(1))


def test_quizzes_need_an_active_enrolment(outline: Outline) -> None:
    with pytest.raises(errors.NotEnrolled):
        Enrollment.blank(uuid4()).submit_quiz(outline.l1, QUIZ, RIGHT, at(1))
    dropped = b.enrolled(outline)
    dropped.drop("", at(1))
    with pytest.raises(errors.NotEnrolled):
        dropped.submit_quiz(outline.l1, QUIZ, RIGHT, at(2))


# -- drop and come back ----------------------------------------------------------------------


def test_dropping_ends_the_enrolment(enrollment: Enrollment) -> None:
    enrollment.drop("no time", at(9))
    assert enrollment.collect() == [Enrollment.Dropped("no time", at(9))]
    assert (enrollment.status, enrollment.active, enrollment.last_activity) == (
        "dropped",
        False,
        at(9),
    )


def test_a_completed_enrolment_can_be_dropped(enrollment: Enrollment, outline: Outline) -> None:
    for lesson in (outline.l1, outline.l2, outline.l3):
        enrollment.complete_lesson(lesson, at(1))
    enrollment.drop("retake", at(2))
    assert enrollment.status == "dropped" and enrollment.ever_completed


def test_only_an_enrolment_can_be_dropped(enrollment: Enrollment) -> None:
    with pytest.raises(errors.NotEnrolled):
        Enrollment.blank(uuid4()).drop("", at(1))
    enrollment.drop("", at(1))
    enrollment.collect()
    with pytest.raises(errors.NotEnrolled):
        enrollment.drop("", at(2))
    assert enrollment.pending == []


def test_enrolling_again_starts_round_two_and_keeps_the_history(outline: Outline) -> None:
    enrollment = b.enrolled(outline)
    enrollment.submit_quiz(outline.l1, QUIZ, HALF, at(1))
    for lesson in (outline.l1, outline.l2, outline.l3):
        enrollment.complete_lesson(lesson, at(1))
    assert enrollment.status == "completed"
    enrollment.drop("retake", at(2))
    assert enrollment.course_id is not None
    enrollment.enrol(enrollment.course_id, b.STUDENT, b.ORG, "0.2", outline.modules(), at(3))
    assert (enrollment.status, enrollment.round, enrollment.revision) == ("active", 2, "0.2")
    assert enrollment.completed_lessons == set() and enrollment.completed_modules == set()
    assert enrollment.progress == 0.0 and enrollment.quiz_attempts == []
    assert enrollment.ever_completed  # prerequisites once met stay met
    assert enrollment.enrolled_at == at(3)
    history = enrollment.collect()
    rounds = [e.round for e in history if isinstance(e, Enrollment.Enrolled)]
    assert rounds == [1, 2]
    assert sum(isinstance(e, Enrollment.Completed) for e in history) == 1
    assert sum(isinstance(e, Enrollment.LessonCompleted) for e in history) == 3


def test_replaying_every_round_gives_the_same_enrolment(outline: Outline) -> None:
    e = b.enrolled(outline)
    e.complete_lesson(outline.l1, at(1))
    e.submit_quiz(outline.l2, QUIZ, HALF, at(2))
    e.drop("", at(3))
    e.enrol(uuid4(), b.STUDENT, b.ORG, "0.2", outline.modules(), at(4))
    e.complete_lesson(outline.l3, at(5))
    history = e.collect()
    assert [type(x) for x in history].count(Enrollment.Enrolled) == 2
    again = Enrollment.replay(e.id, history)
    assert again.version == len(history)
    assert vars(again) | {"stored_version": 0} == vars(e)
