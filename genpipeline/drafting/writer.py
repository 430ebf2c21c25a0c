"""The lesson-writer port. Whatever writes a lesson, its items pass the grounding check here."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Sequence

import msgspec

from genpipeline.chunking import Chunk
from genpipeline.drafting import cefr, grounding
from genpipeline.drafting.draft import Citation, Dropped, LessonDraft, LessonPlan


class LessonWriter(ABC):
    """Writes one lesson of the outline from the chunks retrieved for it, at a CEFR level."""

    name: str

    async def write(self, plan: LessonPlan, sources: Sequence[Chunk], level: str, feedback: str = "") -> LessonDraft:
        """The lesson, with every item that its citations do not support dropped (and listed)."""
        draft = await self.compose(plan, sources, level, feedback)
        return await asyncio.to_thread(ground, draft, level)  # CPU work: off the event loop

    @abstractmethod
    async def compose(self, plan: LessonPlan, sources: Sequence[Chunk], level: str, feedback: str) -> LessonDraft:
        """The lesson as written, before the grounding check."""

    async def ping(self) -> None:  # noqa: B027 (a writer that needs nothing has nothing to check)
        """Raises when what the writer needs does not answer (the offline writer needs nothing)."""


def ground(draft: LessonDraft, level: str) -> LessonDraft:
    """Drop every item its citations do not support; measure the CEFR level of what remains."""
    dropped = list(draft.dropped)

    def keep(text: str, citations: tuple[Citation, ...]) -> bool:
        verdict = grounding.check(text, [c.quote for c in citations])
        if not verdict.ok:
            dropped.append(Dropped(text, verdict.reason))
        return verdict.ok

    kept = msgspec.structs.replace(
        draft,
        objectives=tuple(s for s in draft.objectives if keep(s.text, s.citations)),
        explanation=tuple(s for s in draft.explanation if keep(s.text, s.citations)),
        vocabulary=tuple(v for v in draft.vocabulary if keep(f"{v.term}: {v.gloss}", v.citations)),
        example=tuple(d for d in draft.example if keep(d.text, d.citations)),
        exercises=tuple(e for e in draft.exercises if keep(f"{e.prompt} {e.answer}", e.citations)),
        quiz=tuple(
            q for q in draft.quiz if keep(f"{q.prompt} {' '.join(q.options[i] for i in q.correct)}", q.citations)
        ),
    )
    readable = [s.text for s in (*kept.objectives, *kept.explanation)] + [d.text for d in kept.example]
    measured = cefr.measure(readable, glossed=[v.term for v in kept.vocabulary])
    return msgspec.structs.replace(kept, dropped=tuple(dropped), cefr_target=level, cefr_measured=measured)
