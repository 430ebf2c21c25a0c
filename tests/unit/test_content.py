"""Lesson content: what a usable document is, and how quizzes are scored."""

from __future__ import annotations

from dataclasses import replace

import pytest

from domain import errors
from domain.content import Assessment, Exercise, LessonContent, Material, Question, Score, score
from tests.unit import builders as b

# -- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        LessonContent(objectives=("Know the checks",)),
        LessonContent(materials=(Material("video", "Walkthrough", url="https://example.org/v"),)),
        LessonContent(exercises=(Exercise("Name three checks", "forks, chains, tyres"),)),
        b.with_quiz(b.quiz()),
    ],
    ids=["objectives", "materials", "exercises", "assessments"],
)
def test_any_one_kind_of_content_is_enough(content: LessonContent) -> None:
    content.validate()


def test_empty_content_is_rejected() -> None:
    with pytest.raises(errors.InvalidCourse, match="empty"):
        LessonContent().validate()


def _invalid(assessment: Assessment) -> None:
    with pytest.raises(errors.InvalidCourse):
        b.with_quiz(assessment).validate()


def test_assessment_ids_must_not_repeat() -> None:
    content = LessonContent(assessments=(b.quiz("a"), b.quiz("a")))
    with pytest.raises(errors.InvalidCourse, match="repeat"):
        content.validate()
    LessonContent(assessments=(b.quiz("a"), b.quiz("b"))).validate()


def test_an_assessment_needs_questions() -> None:
    _invalid(Assessment("a", "Empty", ()))


@pytest.mark.parametrize("pass_mark", [0.0, -0.1, 1.01, 2.0])
def test_the_pass_mark_is_a_fraction_above_zero_up_to_one(pass_mark: float) -> None:
    _invalid(b.quiz(pass_mark=pass_mark))


@pytest.mark.parametrize("pass_mark", [0.01, 0.5, 1.0])
def test_pass_marks_in_range_are_accepted(pass_mark: float) -> None:
    b.with_quiz(b.quiz(pass_mark=pass_mark)).validate()


def test_question_ids_must_not_repeat_within_an_assessment() -> None:
    _invalid(b.quiz("a", b.question("q"), b.question("q")))


def test_a_question_needs_two_options() -> None:
    _invalid(b.quiz("a", b.question("q", options=1)))
    b.with_quiz(b.quiz("a", b.question("q", options=2))).validate()


@pytest.mark.parametrize("correct", [(), (3,), (-1,), (0, 5)])
def test_correct_answers_must_index_the_options(correct: tuple[int, ...]) -> None:
    _invalid(b.quiz("a", b.question("q", correct=correct, options=3)))


@pytest.mark.parametrize("points", [0, -2])
def test_points_must_be_positive(points: int) -> None:
    _invalid(b.quiz("a", b.question("q", points=points)))


def test_an_assessment_is_found_by_id() -> None:
    first, second = b.quiz("first"), b.quiz("second")
    content = LessonContent(assessments=(first, second))
    assert content.assessment("second") is second
    assert content.assessment("third") is None


# -- scoring ---------------------------------------------------------------------------------

QUIZ = b.quiz(
    "final",
    b.question("single", correct=(1,), points=1),
    b.question("multi", correct=(0, 2), points=2),
    b.question("heavy", correct=(2,), points=7),
    pass_mark=0.7,
)


def test_all_right_scores_every_point() -> None:
    result = score(QUIZ, {"single": (1,), "multi": (0, 2), "heavy": (2,)})
    assert result == Score(10, 10, True, {"single": True, "multi": True, "heavy": True})


def test_a_multiple_answer_question_is_all_or_nothing() -> None:
    partial = score(QUIZ, {"multi": (0,)})
    extra = score(QUIZ, {"multi": (0, 1, 2)})
    assert partial.per_question["multi"] is False and partial.score == 0
    assert extra.per_question["multi"] is False and extra.score == 0


def test_order_and_repetition_of_chosen_options_do_not_matter() -> None:
    assert score(QUIZ, {"multi": (2, 0, 2)}).per_question["multi"] is True


def test_questions_are_weighted_by_points() -> None:
    assert score(QUIZ, {"heavy": (2,)}).score == 7
    assert score(QUIZ, {"single": (1,), "multi": (0, 2)}).score == 3


def test_an_unanswered_question_counts_as_wrong() -> None:
    result = score(QUIZ, {})
    assert result == Score(0, 10, False, {"single": False, "multi": False, "heavy": False})


def test_the_pass_mark_is_reached_exactly_at_its_fraction() -> None:
    # 0.7 * 10 is 7.000000000000001 in floating point: exactly 7 points must still pass.
    assert score(QUIZ, {"heavy": (2,)}).passed is True
    assert score(QUIZ, {"single": (1,), "multi": (0, 2)}).passed is False
    one_short = replace(QUIZ, pass_mark=0.8)
    assert score(one_short, {"heavy": (2,)}).passed is False
    assert score(one_short, {"heavy": (2,), "single": (1,)}).passed is True


def test_unknown_question_ids_are_invalid_answers() -> None:
    with pytest.raises(errors.InvalidAnswers, match="nope"):
        score(QUIZ, {"single": (1,), "nope": (0,)})


@pytest.mark.parametrize("chosen", [(3,), (-1,), (0, 9)])
def test_answers_outside_the_options_are_invalid(chosen: tuple[int, ...]) -> None:
    with pytest.raises(errors.InvalidAnswers):
        score(QUIZ, {"single": chosen})


def test_scoring_a_single_question_quiz() -> None:
    quiz = Assessment("q", "Q", (Question("a", "?", ("yes", "no"), (0,)),), pass_mark=1.0)
    assert score(quiz, {"a": (0,)}) == Score(1, 1, True, {"a": True})
    assert score(quiz, {"a": (1,)}) == Score(0, 1, False, {"a": False})
