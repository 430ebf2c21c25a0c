"""Scoring a generated course, as its queries return it, against a folder's facts.json: facts
taught with a citation of their source sentence, citation validity (the span is in the stored
text, holds the quote, and the quote supports the item), trap statements, OCR word accuracy,
the CEFR level measured per lesson.

facts.json: {"documents": [{"file": ..., "facts": [{"id", "source_sentence", ...}], "traps": [...]}]}
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from genpipeline.drafting import cefr, grounding
from genpipeline.drafting.content import ReadLesson, Source
from genpipeline.drafting.sources import words

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
    uncited: int = 0  # items a learner reads with no source at all
    traps: int = 0
    lessons: int = 0
    cefr_ok: int = 0
    levels: list[str] = field(default_factory=list)  # each lesson's measured CEFR level
    ocr: float | None = None
    seconds: float = 0.0
    failure: str = ""  # the order failed: why
    missed: list[str] = field(default_factory=list)


def score_document(
    file: str,
    texts: Mapping[str, str],
    lessons: Sequence[ReadLesson],
    facts: Sequence[dict[str, str]],
    traps: Sequence[str],
    target: str,
) -> DocumentScore:
    """Score one document's course as its queries return it; `texts` holds each cited
    document's extracted text (as the pipeline stored it), by name."""
    score = DocumentScore(file)
    items = [(text, refs) for lesson in lessons for text, refs in lesson.items]
    for fact in facts:
        score.facts += 1
        sentence = fact["source_sentence"]
        teaching = [refs for text, refs in items if teaches_fact(text, sentence)]
        if teaching:
            score.taught += 1
        if any(_points_at(s, texts, sentence) for refs in teaching for s in refs):
            score.cited += 1
        else:
            score.missed.append(fact.get("id", sentence[:40]))
    for item, refs in items:
        score.uncited += not refs
        for s in refs:
            score.citations += 1
            score.valid_citations += _valid(s, texts) and grounding.check(item, [s.quote]).ok
    score.traps = sum(1 for trap in traps for item, _ in items if contains(item, trap))
    for lesson in lessons:
        measured = cefr.measure(lesson.readable, glossed=lesson.glossed)
        score.lessons += 1
        score.levels.append(measured)
        score.cefr_ok += abs(cefr.level_index(measured) - cefr.level_index(target)) <= 1
    return score


def _valid(source: Source, texts: Mapping[str, str]) -> bool:
    """The span is in the document's stored text and holds the quoted text."""
    text = texts.get(source.document)
    if text is None or not 0 <= source.start < source.end <= len(text):
        return False
    return " ".join(text[source.start : source.end].split()) == source.quote


def _points_at(source: Source, texts: Mapping[str, str], sentence: str) -> bool:
    """The cited span overlaps the fact's source sentence in the document: the sentence is found
    in the span widened by less than the sentence's length on each side."""
    text = texts.get(source.document, "")
    reach = max(0, len(sentence) - 1)
    return contains(text[max(0, source.start - reach) : source.end + reach], sentence)


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
