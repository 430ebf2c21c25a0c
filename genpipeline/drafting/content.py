"""A lesson draft as the course's lesson content (schemas.commands.LessonContent).

Lesson content has no field for citations, so they travel in the text a learner and a reviewer
read: every cited item ends with its source numbers ("[2]"), and a "Sources" material lists
each source with its document, page, section, its span in the document's extracted text (stored
beside the SOP) and the quoted SOP text. What the grounding check dropped is for the reviewer,
not the learner: see `review_notes`. `read_lesson` reads the items and their sources back from
the content as the course's queries return it (the evaluation scores the course that way).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from genpipeline.drafting.draft import Citation, LessonDraft
from schemas.commands import Assessment, Exercise, LessonContent, Material, Question

_MARKS = re.compile(r"(.+?) ((?:\[\d+\])+)(?=\s|$)", re.DOTALL)
_SOURCE = re.compile(r'^\[(\d+)\] (.+?)(?:, page (\d+))?, section (.*), characters (\d+)-(\d+): "(.*)"$', re.MULTILINE)


class _Sources:
    """Numbers each distinct cited span once, in order of first use."""

    def __init__(self) -> None:
        self.numbers: dict[tuple[str, int, int], int] = {}
        self.cited: list[Citation] = []

    def mark(self, citations: tuple[Citation, ...]) -> str:
        refs = []
        for c in citations:
            key = (c.document, c.start, c.end)
            if key not in self.numbers:
                self.numbers[key] = len(self.cited) + 1
                self.cited.append(c)
            refs.append(f"[{self.numbers[key]}]")
        return " " + "".join(refs) if refs else ""

    def listing(self) -> str:
        lines = []
        for n, c in enumerate(self.cited, start=1):
            page = f", page {c.page}" if c.page else ""
            quote = " ".join(c.quote.split())  # one line per source
            lines.append(f'[{n}] {c.document}{page}, section {c.section}, characters {c.start}-{c.end}: "{quote}"')
        return "\n".join(lines)


def lesson_content(draft: LessonDraft, *, assessment_id: str = "quiz") -> LessonContent:
    sources = _Sources()
    materials = []
    explanation = " ".join(s.text + sources.mark(s.citations) for s in draft.explanation)
    if explanation:
        materials.append(Material(kind="text", title="Explanation", body=explanation))
    if draft.vocabulary:
        body = "\n".join(f"{v.term}: {v.gloss}{sources.mark(v.citations)}" for v in draft.vocabulary)
        materials.append(Material(kind="text", title="Key vocabulary", body=body))
    if draft.example:
        body = "\n".join(f"{d.speaker}: {d.text}{sources.mark(d.citations)}" for d in draft.example)
        materials.append(Material(kind="text", title="Dialogue", body=body))
    objectives = [s.text + sources.mark(s.citations) for s in draft.objectives]
    exercises = [Exercise(prompt=e.prompt + sources.mark(e.citations), answer=e.answer) for e in draft.exercises]
    questions = [
        Question(
            id=f"q{n}", prompt=q.prompt + sources.mark(q.citations), options=list(q.options), correct=list(q.correct)
        )
        for n, q in enumerate(draft.quiz, start=1)
    ]
    if sources.cited:
        materials.append(Material(kind="text", title="Sources", body=sources.listing()))
    assessments = (
        [Assessment(id=assessment_id, title=f"Quiz: {draft.title}"[:200], questions=questions)] if questions else []
    )
    return LessonContent(objectives=objectives, materials=materials, exercises=exercises, assessments=assessments)


def review_notes(draft: LessonDraft) -> str:
    """For the course's reviewer: the measured CEFR level and every item dropped, with why."""
    notes = [f"{draft.title}: CEFR level target {draft.cefr_target}, measured {draft.cefr_measured}."]
    notes += [f'Dropped "{d.text}": {d.reason}.' for d in draft.dropped]
    return "\n".join(notes)


@dataclass(frozen=True)
class Source:
    """One entry of a lesson's "Sources": where a cited span is in a document's extracted text."""

    document: str
    page: int | None
    section: str
    start: int
    end: int
    quote: str  # whitespace made single spaces


@dataclass
class ReadLesson:
    """A lesson's content as a learner reads it: each item with its sources, the texts whose
    level is measured (objectives, explanation, dialogue) and the glossed terms."""

    items: list[tuple[str, tuple[Source, ...]]] = field(default_factory=list)
    readable: list[str] = field(default_factory=list)
    glossed: list[str] = field(default_factory=list)


def read_lesson(content: Mapping[str, Any]) -> ReadLesson:
    """The inverse of `lesson_content`, on the content as JSON (a query's `LessonView.content`)."""
    materials = {m["title"]: m["body"] for m in content.get("materials", ())}
    sources = {
        int(m[1]): Source(m[2], int(m[3]) if m[3] else None, m[4], int(m[5]), int(m[6]), m[7])
        for m in _SOURCE.finditer(materials.get("Sources", ""))
    }
    lesson = ReadLesson()

    def cited(text: str) -> tuple[str, tuple[Source, ...]]:
        m = _MARKS.fullmatch(text.strip())
        if m is None:
            return text.strip(), ()
        numbers = [int(n) for n in re.findall(r"\d+", m[2])]
        return m[1], tuple(sources[n] for n in numbers if n in sources)

    def add(text: str, refs: tuple[Source, ...], *, readable: bool) -> None:
        lesson.items.append((text, refs))
        if readable:
            lesson.readable.append(text)

    for objective in content.get("objectives", ()):
        add(*cited(objective), readable=True)
    for m in _MARKS.finditer(materials.get("Explanation", "")):
        add(*cited(m[0]), readable=True)
    for line in materials.get("Key vocabulary", "").splitlines():
        text, refs = cited(line)
        lesson.glossed.append(text.split(": ", 1)[0])
        add(text, refs, readable=False)
    for line in materials.get("Dialogue", "").splitlines():
        text, refs = cited(line.split(": ", 1)[-1])
        add(text, refs, readable=True)
    for exercise in content.get("exercises", ()):
        text, refs = cited(exercise["prompt"])
        add(f"{text} {exercise.get('answer', '')}", refs, readable=False)
    for assessment in content.get("assessments", ()):
        for q in assessment["questions"]:
            text, refs = cited(q["prompt"])
            answers = " ".join(q["options"][i] for i in q.get("correct", ()) if 0 <= i < len(q["options"]))
            add(f"{text} {answers}", refs, readable=False)
    return lesson
