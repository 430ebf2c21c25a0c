"""The pipeline's stages on their ports: ingest SOPs, plan the outline, write each lesson.

Domain-free: it knows documents, chunks and drafts, not orders or courses. The order worker runs
these stages and records each as an order event (the evaluation, `coursewright eval
generation`, goes through the orders too).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid5

from genpipeline.chunking import Chunk, Chunker
from genpipeline.drafting.draft import LessonDraft, LessonPlan, Outline
from genpipeline.drafting.outline import plan_outline
from genpipeline.drafting.writer import LessonWriter
from genpipeline.extraction import Block, Document, Extraction, extract_in_thread
from infra.embedding import Embedder
from infra.vectorstore import Point, VectorStore


@dataclass(frozen=True)
class Ingested:
    document: Document
    chunks: list[Chunk]


def point_id(order_id: UUID, chunk: Chunk) -> UUID:
    """The same chunk of the same order always gets the same id: re-indexing replaces it."""
    return uuid5(order_id, f"chunk:{chunk.key}")


class CourseBuilder:
    def __init__(
        self,
        extraction: Extraction,
        embedder: Embedder,
        store: VectorStore,
        writer: LessonWriter,
        *,
        chunk_tokens: int = 200,
        retrieve: int = 6,
    ) -> None:
        self.extraction = extraction
        self.embedder = embedder
        self.store = store
        self.writer = writer
        # The budget counts the model's own tokens, with room for the section title in front.
        self.chunker = Chunker(
            max_tokens=min(chunk_tokens, embedder.max_tokens - 40), count_tokens=embedder.count_tokens
        )
        self.retrieve = retrieve

    async def extract(self, name: str, data: bytes) -> Document:
        """CPU-bound parsing and OCR run in a thread, stopped and awaited when cancelled."""
        return await extract_in_thread(self.extraction, name, data)

    def chunk(self, document: Document) -> list[Chunk]:
        return self.chunker.chunks(document)

    async def index(self, org_id: UUID, order_id: UUID, chunks: Sequence[Chunk]) -> None:
        """Embed and upsert the chunks (ids from order and chunk: a repeat replaces, never adds);
        give all of an order's chunks at once: the model's batches are then full and sorted by
        length across its documents."""
        await self.store.ensure_collection(self.embedder.model, self.embedder.dimension)
        vectors = await asyncio.to_thread(self.embedder.embed, [c.embedding_text for c in chunks])
        await self.store.upsert(
            [
                Point(point_id(order_id, c), v, str(org_id), str(order_id), chunk_payload(c))
                for c, v in zip(chunks, vectors, strict=True)
            ]
        )

    def outline(self, title: str, ingested: Sequence[Ingested]) -> Outline:
        return plan_outline(title, [(i.document.name, i.chunks) for i in ingested])

    async def sources(self, org_id: UUID, order_id: UUID, plan: LessonPlan, own: Sequence[Chunk]) -> list[Chunk]:
        """The lesson's own section, then what retrieval finds for it in the same order."""
        (vector,) = await asyncio.to_thread(self.embedder.embed, [plan.query])
        hits = await self.store.search(vector, org_id=str(org_id), order_id=str(order_id), limit=self.retrieve)
        found = [chunk_from_payload(h.payload) for h in hits]
        keys = {c.key for c in own}
        return [*own, *(c for c in found if c.key not in keys)]

    async def write(
        self, org_id: UUID, order_id: UUID, plan: LessonPlan, own: Sequence[Chunk], level: str, feedback: str = ""
    ) -> LessonDraft:
        sources = await self.sources(org_id, order_id, plan, own)
        return await self.writer.write(plan, sources, level, feedback)


def chunk_payload(chunk: Chunk) -> dict[str, Any]:
    """A chunk as vector-store payload: enough to cite it without the document at hand."""
    return {
        "document": chunk.document,
        "index": chunk.index,
        "text": chunk.text,
        "section": chunk.section,
        "section_title": chunk.section_title,
        "page": chunk.page,
        "start": chunk.start,
        "end": chunk.end,
        "parts": [[p.kind, p.text, p.section, p.section_title, p.page, p.start, p.end] for p in chunk.parts],
    }


def chunk_from_payload(payload: dict[str, Any]) -> Chunk:
    parts = tuple(Block(k, t, s, st, pg, a, b) for k, t, s, st, pg, a, b in payload["parts"])
    return Chunk(
        payload["document"],
        payload["index"],
        payload["text"],
        payload["section"],
        payload["section_title"],
        payload["page"],
        payload["start"],
        payload["end"],
        parts,
    )
