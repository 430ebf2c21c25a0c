"""The offline lesson writer: every item is built from the SOP's own sentences.

No language model: the lesson's rules are the section's sentences that ask something of the
learner, simplified for the level (step numbers dropped; below B2, a sentence of several
clauses becomes several sentences), turned into objectives, an explanation, a dialogue between
a trainer and a trainee, gap-fill exercises, and a quiz whose answers are the SOP's own numbers
and terms. Key vocabulary is the words above the learner's level, glossed from the SOP's
definitions where it has them.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Sequence

from genpipeline.chunking import Chunk
from genpipeline.drafting import cefr
from genpipeline.drafting.draft import (
    DialogueLine,
    Exercise,
    LessonDraft,
    LessonPlan,
    QuizQuestion,
    Statement,
    VocabularyEntry,
)
from genpipeline.drafting.grounding import COMMON_WORDS
from genpipeline.drafting.outline import teaches
from genpipeline.drafting.sources import Sentence, sentences_of
from genpipeline.drafting.writer import LessonWriter

_AMOUNT = re.compile(r"[£$€]?\d+(?:[.,:]\d+)*%?(?:\s?(?:minutes?|hours?|days?|weeks?|months?|years?|seconds?))?")
_ACRONYM = re.compile(r"\b[A-Z]{2,5}\b")
GAP = "____"


class GroundedWriter(LessonWriter):
    name = "offline-grounded"

    def __init__(self, *, max_rules: int = 12) -> None:
        self.max_rules = max_rules

    async def compose(self, plan: LessonPlan, sources: Sequence[Chunk], level: str, feedback: str) -> LessonDraft:
        """In a thread: the word lists and the level measure are CPU work the worker's loop must not wait on."""
        return await asyncio.to_thread(self.compose_now, plan, sources, level, feedback)

    def compose_now(self, plan: LessonPlan, sources: Sequence[Chunk], level: str, feedback: str) -> LessonDraft:
        own = [c for c in sources if c.key in plan.chunks]
        rules = [s for c in own for s in sentences_of(c) if teaches(s)][: self.max_rules]
        every = [s for c in sources for s in sentences_of(c)]
        if feedback:
            # A reviewer's feedback asks for more of what it names: rules sharing its words first.
            rules.sort(key=lambda s: -len(set(feedback.lower().split()) & set(s.plain.lower().split())))
        explanation = [Statement(text, (s.citation(),)) for s in rules for text in simplify(s.plain, level)]
        return LessonDraft(
            title=plan.title,
            objectives=tuple(Statement(f"Follow the rule: {s.plain}", (s.citation(),)) for s in rules[:3]),
            explanation=tuple(explanation),
            vocabulary=tuple(_vocabulary(rules, every, level)),
            example=tuple(_dialogue(rules[:3])),
            exercises=tuple(_gap_fill(s, level) for s in rules if _gap(s.plain, level)),  # one per rule
            quiz=tuple(q for s in rules if (q := _question(s, every, level)) is not None)[:5],
        )


def simplify(text: str, level: str) -> list[str]:
    """Shorter sentences for lower levels: below B2, split at semicolons (each part a sentence)."""
    if cefr.level_index(level) >= cefr.level_index("B2"):
        return [text]
    parts = [p.strip() for p in text.split("; ") if p.strip()]
    out = []
    for i, part in enumerate(parts):
        part = part[0].upper() + part[1:]
        out.append(part if part.endswith((".", "!", "?")) or i == len(parts) - 1 else part + ".")
    return out


def _gap(text: str, level: str) -> str:
    """What a learner should be able to fill in: the first amount or limit, else a key term
    (a word above their level, else the sentence's longest word that is not a common one)."""
    if m := _AMOUNT.search(text):
        return m.group(0)
    hard = [w for w in cefr.hard_words(text, level) if w.lower() not in COMMON_WORDS]
    if hard:
        return hard[0]
    plain = [w for w in re.findall(r"[A-Za-z]+", text) if w.lower() not in COMMON_WORDS]
    return max(plain, key=len) if plain else ""


def _gap_fill(sentence: Sentence, level: str) -> Exercise:
    answer = _gap(sentence.plain, level)
    prompt = f"Fill the gap: {sentence.plain.replace(answer, GAP, 1)}"
    return Exercise(prompt, answer, (sentence.citation(),))


def _question(sentence: Sentence, every: list[Sentence], level: str) -> QuizQuestion | None:
    answer = _gap(sentence.plain, level)
    if not answer:
        return None
    if _AMOUNT.fullmatch(answer):
        pool = {m.group(0) for s in every for m in _AMOUNT.finditer(s.plain)}
        pool |= set(_variants(answer))
    else:
        pool = {w for s in every for w in cefr.hard_words(s.plain, level)}
    distractors = sorted(p for p in pool if p.lower() != answer.lower() and _same_shape(p, answer))[:3]
    if not distractors:
        return None
    options = [answer, *distractors]
    # A fixed shuffle from the sentence itself: the right answer is not always first.
    turn = int(hashlib.sha256(sentence.text.encode()).hexdigest(), 16) % len(options)
    options = options[turn:] + options[:turn]
    kind = "value" if _AMOUNT.fullmatch(answer) else "word"
    prompt = f"Which {kind} completes the sentence? {sentence.plain.replace(answer, GAP, 1)}"
    return QuizQuestion(prompt, tuple(options), (options.index(answer),), (sentence.citation(),))


def _same_shape(candidate: str, answer: str) -> bool:
    """Distractors look like the answer: an amount in the same currency and unit, or a word."""
    if not _AMOUNT.fullmatch(answer):
        return candidate.isalpha()
    unit = re.sub(r"[\d.,:]", "", answer)
    return re.sub(r"[\d.,:]", "", candidate) == unit


def _variants(amount: str) -> list[str]:
    """Plausible wrong amounts: half, double, and one more, with the answer's own units."""
    m = re.search(r"\d+", amount)
    if m is None:
        return []
    n = int(m.group(0))
    return [amount.replace(m.group(0), str(v), 1) for v in {max(1, n // 2), n * 2, n + 1} if v != n]


def _vocabulary(rules: list[Sentence], every: list[Sentence], level: str) -> list[VocabularyEntry]:
    terms: dict[str, tuple[str, Sentence]] = {}
    for s in rules:
        for term in [*_ACRONYM.findall(s.plain), *cefr.hard_words(s.plain, level)]:
            if term.lower() not in COMMON_WORDS:
                terms.setdefault(term.lower(), (term, s))
    defined, undefined = [], []
    for term, used_in in terms.values():
        definition = _definition(term, every)
        if definition is not None:
            defined.append(VocabularyEntry(term, definition[0], (definition[1].citation(),)))
        else:
            undefined.append(VocabularyEntry(term, f"used in: {used_in.plain}", (used_in.citation(),)))
    return (defined + undefined)[:6]  # terms the SOP defines first


def _definition(term: str, every: list[Sentence]) -> tuple[str, Sentence] | None:
    """A definitions-table row whose first cell names the term: "Folio | The guest's bill ..."."""
    pattern = re.compile(rf"\b{re.escape(term)}\b", re.IGNORECASE)
    for s in every:
        if s.kind == "table_row" and " | " in s.text:
            name, rest = s.text.split(" | ", 1)
            if pattern.search(name) and len(rest.split()) >= 4:
                return rest, s
        elif s.kind == "item" and ": " in s.plain:
            name, rest = s.plain.split(": ", 1)
            if pattern.search(name) and len(name.split()) <= 6 and len(rest.split()) >= 4:
                return rest, s
    return None


def _dialogue(rules: list[Sentence]) -> list[DialogueLine]:
    lines: list[DialogueLine] = []
    for n, s in enumerate(rules):
        ask = "What must I do here?" if n == 0 else "What else?"
        lines.append(DialogueLine("Trainee", ask, (s.citation(),)))
        lines.append(DialogueLine("Trainer", s.plain, (s.citation(),)))
    return lines
