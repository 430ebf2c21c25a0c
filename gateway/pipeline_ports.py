"""The generation pipeline's ports, built from settings by the composition root.

Kept apart from `gateway/bootstrap.py` so that only the pipeline's process (and `coursewright
eval`) imports the PDF, OCR, torch and litellm stacks: the gateway never runs them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from commands.bus import CommandBus
from commands.documents import SopDocuments
from genpipeline.course_builder import CourseBuilder
from genpipeline.drafting.grounded import GroundedWriter
from genpipeline.drafting.llm_writer import LlmWriter
from genpipeline.drafting.writer import LessonWriter
from genpipeline.extraction import Extraction, every_format
from genpipeline.service import run_pipeline
from genpipeline.worker import GenerationPipeline
from infra.embedding import Embedder, HashingEmbedder, MiniLmEmbedder
from infra.llm import LiteLlmChatModel
from infra.logging import get_logger
from infra.nats import NatsConnector
from infra.ocr import OcrEngine, OcrUnavailable, TesseractOcr
from infra.settings import Settings
from infra.vectorstore import QdrantVectorStore, VectorStore

log = get_logger(__name__)


def extraction(settings: Settings) -> Extraction:
    """Every format; scanned pages need Tesseract, and without it they fail with that reason."""
    ocr: OcrEngine | None
    try:
        ocr = TesseractOcr()
    except OcrUnavailable as e:
        log.warning("pipeline.ocr_unavailable", reason=str(e))
        ocr = None
    return every_format(ocr, max_bytes=settings.document_max_bytes)


def embedder(settings: Settings) -> Embedder:
    """MiniLM (loads the model: seconds), or the model-free hashing embedder."""
    return HashingEmbedder() if settings.embedder == "hashing" else MiniLmEmbedder()


def vectors(settings: Settings, local_path: Path | None = None) -> VectorStore:
    """A Qdrant server by URL, else local mode in the data folder (one process may open it)."""
    if settings.qdrant_url:
        return QdrantVectorStore(url=settings.qdrant_url)
    return QdrantVectorStore(path=local_path or settings.data_dir / "qdrant")


def writer(settings: Settings) -> LessonWriter:
    """litellm when a model is configured, else the offline grounded writer."""
    if not settings.llm_model:
        return GroundedWriter()
    model = LiteLlmChatModel(
        settings.llm_model, api_base=settings.llm_api_base, api_key=settings.llm_api_key.get_secret_value()
    )
    return LlmWriter(model)


def builder(settings: Settings, store: VectorStore) -> CourseBuilder:
    """The stages on their ports (loads the embedding model: call it off the event loop)."""
    return CourseBuilder(extraction(settings), embedder(settings), store, writer(settings))


async def run(settings: Settings, bus: CommandBus, documents: SopDocuments, nats: NatsConnector) -> None:
    """The `pipeline` component: the models load in a thread, then the subscriptions run until
    cancelled; the vector store is closed on the way out (a restart opens it again)."""
    store = vectors(settings)
    try:
        built = await asyncio.to_thread(builder, settings, store)
        await run_pipeline(settings, nats, GenerationPipeline(bus, documents, built))
    finally:
        await store.close()
