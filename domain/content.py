"""Lesson content: the document each content version holds, and quiz scoring."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.errors import InvalidAnswers, InvalidCourse
from domain.lab import LabSpec


@dataclass(frozen=True)
class Material:
    kind: str  # text | video | link | file | code
    title: str
    body: str = ""
    url: str = ""


@dataclass(frozen=True)
class Exercise:
    prompt: str
    answer: str
    hints: tuple[str, ...] = ()


@dataclass(frozen=True)
class Question:
    id: str
    prompt: str
    options: tuple[str, ...]
    correct: tuple[int, ...]  # indexes into options; several for a multiple-answer question
    points: int = 1


@dataclass(frozen=True)
class Assessment:
    id: str
    title: str
    questions: tuple[Question, ...]
    pass_mark: float = 0.7  # fraction of the points needed to pass
    max_attempts: int | None = None


@dataclass(frozen=True)
class LessonContent:
    objectives: tuple[str, ...] = ()
    materials: tuple[Material, ...] = ()
    exercises: tuple[Exercise, ...] = ()
    assessments: tuple[Assessment, ...] = ()
    lab: LabSpec | None = None  # a sandbox the student runs code in

    def validate(self) -> None:
        """Reject content a student could not use: empty, or quizzes that cannot be scored."""
        if not (self.objectives or self.materials or self.exercises or self.assessments or self.lab):
            raise InvalidCourse("lesson content is empty")
        if self.lab is not None:
            self.lab.validate()
        ids = [a.id for a in self.assessments]
        if len(ids) != len(set(ids)):
            raise InvalidCourse("assessment ids repeat")
        for a in self.assessments:
            if not a.questions:
                raise InvalidCourse(f"assessment {a.id} has no questions")
            if not 0 < a.pass_mark <= 1:
                raise InvalidCourse(f"assessment {a.id}: pass_mark must be in (0, 1]")
            qids = [q.id for q in a.questions]
            if len(qids) != len(set(qids)):
                raise InvalidCourse(f"assessment {a.id}: question ids repeat")
            for q in a.questions:
                if len(q.options) < 2:
                    raise InvalidCourse(f"question {q.id} needs at least two options")
                if not q.correct or any(not 0 <= i < len(q.options) for i in q.correct):
                    raise InvalidCourse(f"question {q.id}: correct answers must index its options")
                if q.points < 1:
                    raise InvalidCourse(f"question {q.id}: points must be positive")

    def assessment(self, assessment_id: str) -> Assessment | None:
        return next((a for a in self.assessments if a.id == assessment_id), None)


@dataclass(frozen=True)
class Score:
    score: int
    max_score: int
    passed: bool
    per_question: dict[str, bool] = field(default_factory=dict)


def score(assessment: Assessment, answers: dict[str, tuple[int, ...]]) -> Score:
    """All-or-nothing per question: the chosen set must equal the correct set."""
    known = {q.id for q in assessment.questions}
    unknown = set(answers) - known
    if unknown:
        raise InvalidAnswers(f"unknown questions: {sorted(unknown)}")
    total = 0
    got = 0
    per: dict[str, bool] = {}
    for q in assessment.questions:
        total += q.points
        chosen = answers.get(q.id, ())
        if any(not 0 <= i < len(q.options) for i in chosen):
            raise InvalidAnswers(f"question {q.id}: answer out of range")
        right = set(chosen) == set(q.correct)
        per[q.id] = right
        got += q.points if right else 0
    return Score(got, total, got >= assessment.pass_mark * total - 1e-9, per)
