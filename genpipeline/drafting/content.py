"""A lesson draft as the course's lesson content (schemas.commands.LessonContent).

Lesson content has no field for citations, so they travel in the text a learner and a reviewer
read: every cited item ends with its source numbers ("[2]"), and a "Sources" material lists
each source with its document, page, section and the quoted SOP text. What the grounding check
dropped is for the reviewer, not the learner: see `review_notes`.
"""

from __future__ import annotations

from genpipeline.drafting.draft import Citation, LessonDraft
from schemas.commands import Assessment, Exercise, LessonContent, Material, Question


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
            lines.append(f'[{n}] {c.document}{page}, section {c.section}: "{c.quote}"')
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
