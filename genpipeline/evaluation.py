"""Scoring a generated course against a folder's facts.json: facts taught with a valid citation,
citation validity, trap statements, OCR word accuracy, CEFR level per lesson.

facts.json: {"documents": [{"file": ..., "facts": [{"id", "source_sentence", ...}], "traps": [...]}]}
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from genpipeline.drafting import cefr, grounding
from genpipeline.drafting.draft import Citation, LessonDraft
from genpipeline.drafting.sources import words
from genpipeline.extraction import Document

_ROLE = re.compile(r"\b([A-Z][a-z]+(?:\s+(?:[A-Z][a-z]+|\d+))+)")


def flat(text: str) -> str:
    return " ".join(text.lower().split())


def word_accuracy(reference: str, hypothesis: str) -> float:
    """Share of the reference's words that the hypothesis reproduces in order (LCS of words)."""
    ref, hyp = reference.split(), hypothesis.split()
    if not ref:
        return 1.0
    matcher = difflib.SequenceMatcher(None, ref, hyp, autojunk=False)
    return sum(b.size for b in matcher.get_matching_blocks()) / len(ref)


def contains(haystack: str, sentence: str) -> bool:
    """The sentence is in the text, exactly after normalising whitespace and case, or fuzzily
    (ratio 0.9 over a window of its length: OCR output may differ by a character or two)."""
    h, s = flat(haystack), flat(sentence)
    if s in h:
        return True
    if len(h) < len(s) * 0.9:
        return False
    step = max(1, len(s) // 8)
    return any(
        difflib.SequenceMatcher(None, h[i : i + len(s)], s, autojunk=False).ratio() >= 0.9
        for i in range(0, max(1, len(h) - len(s) + 1), step)
    )


def teaches_fact(item: str, sentence: str) -> bool:
    """The item keeps the fact's numbers, limits and roles, and is about the same thing."""
    if not grounding.numbers_in(sentence) <= grounding.numbers_in(item):
        return False
    if any(role.lower() not in item.lower() for role in _ROLE.findall(sentence)):
        return False
    content = {w for w in words(sentence) if w not in grounding.COMMON_WORDS}
    return bool(content) and len(content & set(words(item))) / len(content) >= 0.6


@dataclass
class DocumentScore:
    file: str
    facts: int = 0
    taught: int = 0
    cited: int = 0
    citations: int = 0
    valid_citations: int = 0
    traps: int = 0
    lessons: int = 0
    cefr_ok: int = 0
    ocr: float | None = None
    seconds: float = 0.0
    missed: list[str] = field(default_factory=list)


def score_document(
    file: str,
    document: Document,
    lessons: Sequence[LessonDraft],
    facts: Sequence[dict[str, str]],
    traps: Sequence[str],
    target: str,
    chunk_texts: dict[str, str],
) -> DocumentScore:
    """Score one document's course; `chunk_texts` maps each cited chunk key to its text."""
    score = DocumentScore(file)
    items = [(text, cites) for lesson in lessons for text, cites in lesson.items()]
    for fact in facts:
        score.facts += 1
        sentence = fact["source_sentence"]
        teaching = [cites for text, cites in items if teaches_fact(text, sentence)]
        if teaching:
            score.taught += 1
        if any(contains(chunk_texts.get(c.chunk, ""), sentence) for cites in teaching for c in cites):
            score.cited += 1
        else:
            score.missed.append(fact.get("id", sentence[:40]))
    text = document.text
    for item, cites in items:
        for c in cites:
            score.citations += 1
            score.valid_citations += _valid(c, text) and grounding.check(item, [c.quote]).ok
    score.traps = sum(1 for trap in traps for item, _ in items if contains(item, trap))
    for lesson in lessons:
        score.lessons += 1
        score.cefr_ok += abs(cefr.level_index(lesson.cefr_measured) - cefr.level_index(target)) <= 1
    return score


def _valid(citation: Citation, text: str) -> bool:
    return 0 <= citation.start < citation.end <= len(text) and text[citation.start : citation.end] == citation.quote


def result_line(scores: Sequence[DocumentScore]) -> str:
    """The machine-read last line of `coursewright eval generation`."""

    def pct(part: int, whole: int) -> str:
        return f"{100 * part / whole:.1f}" if whole else "100.0"

    ocr = [s.ocr for s in scores if s.ocr is not None]
    return (
        "RESULT generation"
        f" facts_cited={pct(sum(s.cited for s in scores), sum(s.facts for s in scores))}"
        f" citations_valid={pct(sum(s.valid_citations for s in scores), sum(s.citations for s in scores))}"
        f" traps={sum(s.traps for s in scores)}"
        f" ocr={100 * sum(ocr) / len(ocr) if ocr else 100.0:.1f}"
        f" cefr_ok={pct(sum(s.cefr_ok for s in scores), sum(s.lessons for s in scores))}"
        f" seconds={sum(s.seconds for s in scores):.1f}"
    )
