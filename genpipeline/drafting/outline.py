"""The outline follows the SOPs' own structure: a module per document, a lesson per section
that asks something of the learner (a rule, a limit, a step); purpose statements, reference
lists and revision tables teach nothing and make no lesson."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import PurePath

from genpipeline.chunking import Chunk
from genpipeline.drafting.draft import LessonPlan, ModulePlan, Outline
from genpipeline.drafting.sources import Sentence, sentences_of

_RULE = re.compile(
    r"\b(must|never|always|do not|don't|may|should|shall|only|required?|at least|no more than|up to|within|"
    r"at once|immediately|before|after)\b",
    re.IGNORECASE,
)


# A time, an amount or a quantity with its unit is a fact to learn ("check-in time is 15:00").
_LIMIT = re.compile(
    r"\b\d{1,2}:\d{2}\b|[£$€]\s?\d|\b\d+(?:\.\d+)?\s?(?:%|minutes?|hours?|days?|weeks?|months?|years?)\b"
)


def teaches(sentence: Sentence) -> bool:
    """A sentence that asks something of the learner: a rule, a limit, or a procedure step."""
    if sentence.kind == "table_row" or len(sentence.plain.split()) < 4:
        return False
    if sentence.kind == "step" or _RULE.search(sentence.plain) or _LIMIT.search(sentence.plain):
        return True
    # A bulleted sentence is an instruction ("Travel with the load 4 to 6 inches off the floor.");
    # a bullet without a full stop is a list entry (a reference, a form number).
    return sentence.kind == "item" and len(sentence.plain.split()) >= 6 and sentence.plain.endswith(".")


def plan_outline(title: str, documents: Sequence[tuple[str, Sequence[Chunk]]]) -> Outline:
    """A module per document, in the order given; its lessons in the document's order."""
    modules = []
    for name, chunks in documents:
        lessons: list[LessonPlan] = []
        for section_title, group in _by_section(chunks):
            rules = [s for c in group for s in sentences_of(c) if teaches(s)]
            if not rules:
                continue
            lesson_title = _title(section_title) or f"Part {len(lessons) + 1}"
            lessons.append(
                LessonPlan(
                    title=lesson_title,
                    section=group[0].section,
                    chunks=tuple(c.key for c in group),
                    query=f"{lesson_title}: {rules[0].plain}",
                )
            )
        if lessons:
            modules.append(ModulePlan(_document_title(name, chunks), tuple(lessons)))
    return Outline(title, tuple(modules))


def _by_section(chunks: Sequence[Chunk]) -> list[tuple[str, list[Chunk]]]:
    groups: list[tuple[str, list[Chunk]]] = []
    for chunk in chunks:
        if groups and groups[-1][0] == chunk.section_title:
            groups[-1][1].append(chunk)
        else:
            groups.append((chunk.section_title, [chunk]))
    return groups


def _title(text: str) -> str:
    text = " ".join(text.split())[:200]
    return text.title() if text.isupper() else text


def _document_title(name: str, chunks: Sequence[Chunk]) -> str:
    for chunk in chunks:
        for part in chunk.parts:
            if part.kind == "heading" and not part.section[:1].isdigit():
                return _title(part.text)
    return PurePath(name).stem.replace("-", " ").replace("_", " ").capitalize()[:200]
