"""What the pipeline keeps of a draft it wrote, beside the SOPs in the blob store.

The extracted text of every document (`orgs/<org>/text/<sha256>.txt`), so each citation's span can
be shown and checked later, and a manifest per generated course (`orgs/<org>/drafts/<course>.json`):
the order it came from, the target level, and for each lesson its plan and its own chunks. A
rejection that asks for a lesson again finds the same retrieval there; a course without a
manifest was not written by the pipeline.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec

from genpipeline.chunking import Chunk
from genpipeline.course_builder import chunk_from_payload, chunk_payload
from genpipeline.drafting.draft import LessonPlan
from infra.blobs import BlobStore


class DraftLesson(msgspec.Struct, frozen=True):
    lesson_id: UUID
    plan: LessonPlan
    chunks: tuple[dict[str, Any], ...]  # the lesson's own chunks as vector-store payloads

    def own(self) -> list[Chunk]:
        return [chunk_from_payload(c) for c in self.chunks]


class DraftManifest(msgspec.Struct, frozen=True):
    order_id: UUID
    org_id: UUID
    course_id: UUID
    level: str
    lessons: tuple[DraftLesson, ...]

    def lesson(self, lesson_id: UUID) -> DraftLesson | None:
        return next((lesson for lesson in self.lessons if lesson.lesson_id == lesson_id), None)


def draft_lesson(lesson_id: UUID, plan: LessonPlan, own: list[Chunk]) -> DraftLesson:
    return DraftLesson(lesson_id, plan, tuple(chunk_payload(c) for c in own))


def text_key(org_id: UUID, sha256: str) -> str:
    return f"orgs/{org_id}/text/{sha256}.txt"


def manifest_key(org_id: UUID, course_id: UUID) -> str:
    return f"orgs/{org_id}/drafts/{course_id}.json"


async def save_manifest(blobs: BlobStore, manifest: DraftManifest) -> None:
    data = msgspec.json.encode(manifest)
    await blobs.put(manifest_key(manifest.org_id, manifest.course_id), data, "application/json")


async def load_manifest(blobs: BlobStore, org_id: UUID, course_id: UUID) -> DraftManifest | None:
    key = manifest_key(org_id, course_id)
    if await blobs.stat(key) is None:
        return None
    return msgspec.json.decode(await blobs.get(key), type=DraftManifest)
