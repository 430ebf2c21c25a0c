"""A lesson writer on any chat model: the retrieved chunks and their ids in the prompt, a JSON
reply validated by msgspec (retried with the error when invalid), and each item's cited chunk
turned into an exact citation: the sentence of that chunk the item is closest to."""

from __future__ import annotations

import json
from collections.abc import Sequence

import msgspec

from genpipeline.chunking import Chunk
from genpipeline.drafting import draft as d
from genpipeline.drafting.sources import Sentence, sentences_of, words
from genpipeline.drafting.writer import LessonWriter
from infra.llm import ChatModel, Message


class InvalidReply(Exception):
    """The model kept answering with JSON that does not fit the lesson schema."""


class _Item(msgspec.Struct, forbid_unknown_fields=False):
    text: str
    cites: list[str]


class _Term(msgspec.Struct, forbid_unknown_fields=False):
    term: str
    gloss: str
    cites: list[str]


class _Line(msgspec.Struct, forbid_unknown_fields=False):
    speaker: str
    text: str
    cites: list[str]


class _Exercise(msgspec.Struct, forbid_unknown_fields=False):
    prompt: str
    answer: str
    cites: list[str]


class _Question(msgspec.Struct, forbid_unknown_fields=False):
    prompt: str
    options: list[str]
    correct: list[int]
    cites: list[str]


class LessonReply(msgspec.Struct, forbid_unknown_fields=False):
    """The JSON the model must answer with."""

    objectives: list[_Item]
    explanation: list[_Item]
    vocabulary: list[_Term]
    dialogue: list[_Line]
    exercises: list[_Exercise]
    quiz: list[_Question]


SCHEMA = json.dumps(msgspec.json.schema(LessonReply))

SYSTEM = (
    "You write one lesson of a workplace training course in English from Standard Operating "
    "Procedure excerpts. State only what the excerpts state: keep every number, limit, role and "
    "negation exactly. Every item cites the ids of the excerpts it comes from in `cites`. "
    "Answer with one JSON object that matches this JSON Schema, and nothing else:\n" + SCHEMA
)


class LlmWriter(LessonWriter):
    def __init__(self, model: ChatModel, *, attempts: int = 3) -> None:
        self.model = model
        self.name = f"llm:{model.name}"
        self.attempts = attempts

    async def ping(self) -> None:
        await self.model.ping()

    async def compose(self, plan: d.LessonPlan, sources: Sequence[Chunk], level: str, feedback: str) -> d.LessonDraft:
        excerpts = [{"id": c.key, "section": c.section, "text": c.text} for c in sources]
        ask = (
            f"Lesson: {plan.title} (SOP section {plan.section}). Learners' CEFR level: {level}: use words and "
            f"sentence lengths for that level, and gloss the SOP's own terms in `vocabulary`.\n"
            + (f"A reviewer asked for changes: {feedback}\n" if feedback else "")
            + "Excerpts:\n"
            + json.dumps(excerpts, ensure_ascii=False)
        )
        messages = [Message("system", SYSTEM), Message("user", ask)]
        reply = await self._reply(messages)
        by_key = {c.key: sentences_of(c) for c in sources}

        def cite(text: str, keys: list[str]) -> tuple[d.Citation, ...]:
            return tuple(c for k in keys if k in by_key and (c := _closest(text, by_key[k])) is not None)

        return d.LessonDraft(
            title=plan.title,
            objectives=tuple(d.Statement(i.text, cite(i.text, i.cites)) for i in reply.objectives),
            explanation=tuple(d.Statement(i.text, cite(i.text, i.cites)) for i in reply.explanation),
            vocabulary=tuple(
                d.VocabularyEntry(v.term, v.gloss, cite(f"{v.term} {v.gloss}", v.cites)) for v in reply.vocabulary
            ),
            example=tuple(d.DialogueLine(x.speaker, x.text, cite(x.text, x.cites)) for x in reply.dialogue),
            exercises=tuple(
                d.Exercise(e.prompt, e.answer, cite(f"{e.prompt} {e.answer}", e.cites)) for e in reply.exercises
            ),
            quiz=tuple(
                d.QuizQuestion(q.prompt, tuple(q.options), tuple(q.correct), cite(q.prompt, q.cites))
                for q in reply.quiz
                if len(q.options) >= 2 and q.correct and all(0 <= i < len(q.options) for i in q.correct)
            ),
        )

    async def _reply(self, messages: list[Message]) -> LessonReply:
        error = ""
        for _ in range(self.attempts):
            text = await self.model.complete(messages, json_output=True)
            try:
                return msgspec.json.decode(text, type=LessonReply)
            except (msgspec.ValidationError, msgspec.DecodeError) as e:
                error = str(e)
                messages = [
                    *messages,
                    Message("assistant", text),
                    Message("user", f"That reply is not valid: {error}. Answer again with JSON that fits the schema."),
                ]
        raise InvalidReply(f"{self.model.name} gave no valid lesson in {self.attempts} attempts: {error}")


def _closest(text: str, sentences: list[Sentence]) -> d.Citation | None:
    """The sentence of the cited chunk sharing the most words with the item."""
    mine = set(words(text))
    best = max(sentences, key=lambda s: len(mine & set(words(s.text))), default=None)
    return best.citation() if best is not None and mine & set(words(best.text)) else None
