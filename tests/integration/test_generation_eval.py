"""The generation evaluation on the shared SOP samples: MiniLM, local Qdrant, Tesseract, and
both writers (offline, and litellm against a test OpenAI-compatible server)."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from genpipeline.course_builder import CourseBuilder
from genpipeline.drafting.grounded import GroundedWriter
from genpipeline.drafting.llm_writer import LlmWriter
from genpipeline.evaluation import DocumentScore
from genpipeline.extraction import every_format
from genpipeline.generation_eval import evaluate_folder
from infra.embedding import MiniLmEmbedder
from infra.llm import LiteLlmChatModel
from infra.ocr import TesseractOcr
from infra.vectorstore import QdrantVectorStore
from tests.openai_server import OpenAiServer
from tests.sop_samples import samples_dir


@pytest.fixture
async def qdrant(tmp_path: Path) -> AsyncIterator[QdrantVectorStore]:
    store = QdrantVectorStore(path=tmp_path / "qdrant")
    yield store
    await store.close()


async def test_offline_course_teaches_the_facts_with_valid_citations(qdrant: QdrantVectorStore) -> None:
    builder = CourseBuilder(every_format(TesseractOcr()), MiniLmEmbedder(), qdrant, GroundedWriter())
    lines: list[str] = []
    scores = await evaluate_folder(samples_dir(), builder, level="B1", echo=lines.append)
    assert lines[-1].startswith("RESULT generation facts_cited=")
    _assert_goals(scores)
    scan = next(s for s in scores if s.ocr is not None)
    # The issue asks 0.98; measured 0.986 with pages read at the scan's own resolution.
    assert scan.ocr is not None and scan.ocr >= 0.98


async def test_litellm_course_is_cited_and_grounded(qdrant: QdrantVectorStore, tmp_path: Path) -> None:
    folder = tmp_path / "sops"
    folder.mkdir()
    samples = samples_dir()
    text_documents = [f for f in samples.iterdir() if f.suffix == ".md"]  # one document proves the wiring
    for f in text_documents:
        shutil.copy(f, folder / f.name)
    spec = json.loads((samples / "facts.json").read_text())
    spec["documents"] = [d for d in spec["documents"] if d["file"] in {f.name for f in text_documents}]
    (folder / "facts.json").write_text(json.dumps(spec))
    server = OpenAiServer()
    base = await server.start()
    try:
        writer = LlmWriter(LiteLlmChatModel("openai/test-model", api_base=base, api_key="test"))
        builder = CourseBuilder(every_format(None), MiniLmEmbedder(), qdrant, writer)
        lines: list[str] = []
        scores = await evaluate_folder(folder, builder, level="B1", echo=lines.append)
    finally:
        await server.stop()
    assert server.requests  # every lesson went through the model
    assert sum(s.citations for s in scores) == sum(s.valid_citations for s in scores) > 0
    assert sum(s.traps for s in scores) == 0


def _assert_goals(scores: list[DocumentScore]) -> None:
    facts = sum(s.facts for s in scores)
    assert sum(s.cited for s in scores) >= 0.9 * facts, [s.missed for s in scores]
    assert sum(s.valid_citations for s in scores) == sum(s.citations for s in scores) > 0
    assert sum(s.traps for s in scores) == 0
    assert sum(s.cefr_ok for s in scores) == sum(s.lessons for s in scores)
