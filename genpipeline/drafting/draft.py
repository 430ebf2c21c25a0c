"""The draft a writer produces: every item a learner reads carries its citations."""

from __future__ import annotations

import msgspec


class Citation(msgspec.Struct, frozen=True):
    """Where an item comes from: a chunk, and the span of its source sentence in the document."""

    chunk: str  # Chunk.key: "<document>#<index>"
    document: str
    page: int | None
    section: str
    start: int  # span in the document's extracted text
    end: int
    quote: str  # the cited source text, so a reviewer can check it without opening the SOP


class Statement(msgspec.Struct, frozen=True):
    text: str
    citations: tuple[Citation, ...]


class VocabularyEntry(msgspec.Struct, frozen=True):
    term: str
    gloss: str
    citations: tuple[Citation, ...]


class DialogueLine(msgspec.Struct, frozen=True):
    speaker: str
    text: str
    citations: tuple[Citation, ...]


class Exercise(msgspec.Struct, frozen=True):
    prompt: str
    answer: str
    citations: tuple[Citation, ...]


class QuizQuestion(msgspec.Struct, frozen=True):
    prompt: str
    options: tuple[str, ...]
    correct: tuple[int, ...]
    citations: tuple[Citation, ...]


class Dropped(msgspec.Struct, frozen=True):
    """An item the grounding check removed, shown to the reviewer with the reason."""

    text: str
    reason: str


class LessonDraft(msgspec.Struct, frozen=True):
    title: str
    objectives: tuple[Statement, ...] = ()
    explanation: tuple[Statement, ...] = ()
    vocabulary: tuple[VocabularyEntry, ...] = ()
    example: tuple[DialogueLine, ...] = ()
    exercises: tuple[Exercise, ...] = ()
    quiz: tuple[QuizQuestion, ...] = ()
    dropped: tuple[Dropped, ...] = ()
    cefr_target: str = ""
    cefr_measured: str = ""

    def items(self) -> list[tuple[str, tuple[Citation, ...]]]:
        """Every text a learner reads, with its citations (quiz answers included)."""
        out: list[tuple[str, tuple[Citation, ...]]] = []
        out += [(s.text, s.citations) for s in (*self.objectives, *self.explanation)]
        out += [(f"{v.term}: {v.gloss}", v.citations) for v in self.vocabulary]
        out += [(d.text, d.citations) for d in self.example]
        out += [(f"{e.prompt} {e.answer}", e.citations) for e in self.exercises]
        for q in self.quiz:
            answers = " ".join(q.options[i] for i in q.correct)
            out.append((f"{q.prompt} {answers}", q.citations))
        return out


class LessonPlan(msgspec.Struct, frozen=True):
    """One lesson of the outline: its title and the chunks of the SOP section it teaches."""

    title: str
    section: str
    chunks: tuple[str, ...]  # Chunk.key of each, in document order
    query: str  # what retrieval looks for


class ModulePlan(msgspec.Struct, frozen=True):
    title: str
    lessons: tuple[LessonPlan, ...]


class Outline(msgspec.Struct, frozen=True):
    title: str
    modules: tuple[ModulePlan, ...]
