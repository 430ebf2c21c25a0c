"""The generation pipeline's order worker on the real services: PostgreSQL, NATS JetStream (the
relay and durable subscriptions), the run's S3, local Qdrant, MiniLM and Tesseract.

An order becomes exactly one cited draft in review, whatever is repeated: a redelivered event,
two workers on one order, a worker SIGKILLed mid-stage and started again. A poison document
fails its order with a reason while the next order is generated; a rejection naming a lesson
has that lesson written again as a new content version.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import msgspec
import nats
import pytest

from commands.documents import document_key
from domain.course import Course
from domain.order import Order
from genpipeline.course_builder import CourseBuilder
from genpipeline.drafting.grounded import GroundedWriter
from genpipeline.drafting.llm_writer import LlmWriter
from genpipeline.extraction import every_format
from genpipeline.manifest import text_key
from genpipeline.worker import PIPELINE_ACTOR, STAGES, GenerationPipeline, course_id_of
from infra.embedding import Embedder
from infra.llm import LiteLlmChatModel
from infra.ocr import TesseractOcr
from infra.vectorstore import QdrantVectorStore
from schemas import commands as c
from schemas import orders as o
from schemas.envelope import Headers
from tests.conftest import S3Server, make_settings, service_env
from tests.integration.pipeline_support import World, open_world
from tests.sop_samples import SOP_HTML, empty_docx, sample

FORKLIFT = "warehouse-forklift-inspection-safe-operation.md"
HOTEL = "hotel-front-desk-check-in-check-out.pdf"
SUPPORT = "customer-support-phone-complaints-escalations.docx"
SCANNED = "bank-account-opening-kyc-scanned.pdf"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def world(fresh_database: str, s3_server: S3Server) -> AsyncIterator[World]:
    async with open_world(make_settings(fresh_database, **s3_server.settings(), pipeline_ack_seconds=3.0)) as w:
        yield w


@pytest.fixture
async def qdrant(tmp_path: Path) -> AsyncIterator[QdrantVectorStore]:
    store = QdrantVectorStore(path=tmp_path / "qdrant")
    yield store
    await store.close()


@pytest.fixture
def pipeline(world: World, qdrant: QdrantVectorStore, minilm: Embedder) -> GenerationPipeline:
    builder = CourseBuilder(every_format(TesseractOcr()), minilm, qdrant, GroundedWriter())
    return GenerationPipeline(world.bus, world.documents, builder)


async def assert_one_draft(world: World, order_id: uuid.UUID) -> Course:
    """The order has one draft, in review, written once: one course, one submission, each stage once."""
    order = await world.order(order_id)
    assert order.status == "draft_ready" and order.course_id == course_id_of(order_id)
    assert order.progress == (len(STAGES), len(STAGES))
    order_events = await world.event_types(order_id)
    assert order_events.count("OrderGenerationStarted") == 1 and order_events.count("OrderDraftReady") == 1
    assert order_events.count("OrderStageStarted") == len(STAGES)
    created = [e for e in await world.all_of("CourseCreated") if e.actor_id == str(PIPELINE_ACTOR)]
    assert [e.stream_id for e in created if str(order_id) in bytes(e.payload).decode()] == [order.course_id]
    course = await world.course(order.course_id)
    assert course.status == "in_review" and course.author_id == PIPELINE_ACTOR
    course_events = await world.event_types(course.id)
    assert course_events.count("CourseSubmitted") == 1
    assert course_events.count("CourseModuleAdded") == len(course.modules) > 0
    lessons = [lesson for m in course.modules for lesson in m.lessons]
    assert course_events.count("CourseLessonAdded") == len(lessons) > 0
    assert course_events.count("CourseContentVersioned") == len(lessons)
    return course


def sources_of(course: Course) -> list[str]:
    """The "Sources" material of every lesson: the cited SOP text a reviewer checks."""
    out = []
    for m in course.modules:
        for lesson in m.lessons:
            assert lesson.content is not None
            sources = [x.body for x in lesson.content.materials if x.title == "Sources"]
            assert sources, f"lesson {lesson.title} cites nothing"
            out += sources
    return out


async def test_an_order_of_sample_sops_becomes_one_cited_draft_in_review_and_redelivery_changes_nothing(
    world: World, pipeline: GenerationPipeline
) -> None:
    files = [(name, sample(name)) for name in (FORKLIFT, HOTEL, SUPPORT)]
    order_id = await world.place(files)
    async with world.running(pipeline):
        await world.until_order(order_id, "draft_ready", "failed")
        course = await assert_one_draft(world, order_id)
        assert len(course.modules) == 3  # a module per document
        # Every lesson cites its SOP: document, section and the quoted text.
        assert all('"' in s and ("section" in s) for s in sources_of(course))
        assert any(HOTEL in s and "page" in s for s in sources_of(course))
        # The extracted text of each document is stored for citations to be checked later.
        order = await world.order(order_id)
        for sha in order.documents:
            assert (await world.blobs.get(text_key(world.org, sha))).decode().strip()
        # The review tells the reviewer each lesson's measured level.
        assert course.review_id is not None
        review = await world.event_types(course.review_id)
        assert review.count("ReviewCommented") == sum(len(m.lessons) for m in course.modules)

        # The same event delivered again (a new message on the stream) and the job run again.
        before = {s: len(await world.events(s)) for s in (order_id, course.id, course.review_id)}
        (accepted,) = [e for e in await world.events(order_id) if e.event_type == "OrderDocumentsAccepted"]
        nc = await nats.connect(world.settings.nats_url)
        try:
            await nc.jetstream().publish(
                world.settings.event_subject("order", accepted.event_type),
                msgspec.json.encode(accepted),
                headers={Headers.POSITION: str(accepted.position)},
            )
        finally:
            await nc.close()
        await world.until(lambda: _handled(pipeline, 2))
        await pipeline.generate(order_id, accepted)  # nothing left to do: the order is drafted
    after = {s: len(await world.events(s)) for s in before}
    assert after == before
    await assert_one_draft(world, order_id)


async def _handled(pipeline: GenerationPipeline, jobs: int) -> bool:
    return pipeline.handled >= jobs


async def test_two_workers_on_one_order_and_a_repeat_write_one_draft(
    world: World, qdrant: QdrantVectorStore, minilm: Embedder
) -> None:
    order_id = await world.place([(FORKLIFT, sample(FORKLIFT))])
    (accepted,) = [e for e in await world.events(order_id) if e.event_type == "OrderDocumentsAccepted"]
    # Two processes' pipelines (each its own per-order lock) on the same order at once.
    first, second = (
        GenerationPipeline(
            world.bus, world.documents, CourseBuilder(every_format(None), minilm, qdrant, GroundedWriter())
        )
        for _ in range(2)
    )
    await asyncio.gather(first.generate(order_id, accepted), second.generate(order_id, accepted))
    course = await assert_one_draft(world, order_id)
    versions = len(await world.events(course.id))
    await first.generate(order_id, accepted)
    assert len(await world.events(course.id)) == versions


async def test_poison_documents_fail_their_orders_with_a_reason_and_the_next_order_is_drafted(
    world: World, pipeline: GenerationPipeline
) -> None:
    corrupt = await world.place([("broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage, no xref")])
    empty = await world.place([("empty.docx", empty_docx())])
    good = await world.place([(FORKLIFT, sample(FORKLIFT))])
    async with world.running(pipeline):
        failed = await world.until_order(corrupt, "failed", "draft_ready")
        assert failed.status == "failed" and failed.failure is not None
        assert (failed.failure.stage, failed.failure.stage_name) == (2, "extract")
        assert "broken.pdf" in failed.failure.reason
        nothing = await world.until_order(empty, "failed", "draft_ready")
        assert nothing.failure is not None and "empty.docx" in nothing.failure.reason
        assert "no text" in nothing.failure.reason
        await world.until_order(good, "draft_ready", "failed")
    await assert_one_draft(world, good)
    # The failed orders made no course.
    for order_id in (corrupt, empty):
        assert await world.events(course_id_of(order_id)) == []


async def test_an_empty_changed_or_huge_document_fails_its_order_and_an_html_sop_is_drafted_for_its_org_only(
    world: World, qdrant: QdrantVectorStore, minilm: Embedder
) -> None:
    # The pipeline reads documents up to 100 kB here (CW_DOCUMENT_MAX_BYTES lowered after the order took a larger one).
    builder = CourseBuilder(every_format(None, max_bytes=100_000), minilm, qdrant, GroundedWriter())
    pipeline = GenerationPipeline(world.bus, world.documents, builder)
    huge = await world.place([("all-sops.txt", b"1. Scope\nEvery step is logged.\n" * 8_000)])
    # An order never takes a 0-byte file; a stored document read back empty (storage lost it) is one.
    emptied = await world.place([("cold-room.txt", b"1. Scope\nThe room is kept below 5 degrees.\n")])
    (sha,) = (await world.order(emptied)).documents
    await world.blobs.put(document_key(world.org, sha), b"", "text/plain")
    # A stored document overwritten with other (readable) text: not what the order recorded, so not taught.
    changed = await world.place([("freezer.txt", b"1. Scope\nThe freezer is kept below -18 degrees.\n")])
    (changed_sha,) = (await world.order(changed)).documents
    await world.blobs.put(
        document_key(world.org, changed_sha), b"1. Scope\nThe freezer may be kept at any temperature.\n", "text/plain"
    )
    html = await world.place([("QA-SOP-014.html", SOP_HTML.encode())])
    async with world.running(pipeline):
        too_large = await world.until_order(huge, "failed", "draft_ready")
        assert too_large.failure is not None and too_large.failure.stage_name == "extract"
        assert "all-sops.txt" in too_large.failure.reason and "too large" in too_large.failure.reason
        empty = await world.until_order(emptied, "failed", "draft_ready")
        assert empty.failure is not None and empty.failure.stage_name == "fetch documents"
        assert "cold-room.txt: the stored copy is not the document added" in empty.failure.reason
        assert "0 bytes" in empty.failure.reason
        overwritten = await world.until_order(changed, "failed", "draft_ready")
        assert overwritten.failure is not None and overwritten.failure.stage_name == "fetch documents"
        assert "freezer.txt: the stored copy is not the document added" in overwritten.failure.reason
        assert f"the order recorded {changed_sha}" in overwritten.failure.reason
        await world.until_order(html, "draft_ready", "failed")
    course = await assert_one_draft(world, html)
    placed = await world.order(html)
    assert placed.documents[sha_of(placed)].media_type == "text/html"
    sources = " ".join(sources_of(course))
    assert "QA-SOP-014.html" in sources and "section 3 step 2" in sources
    # Its chunks are found for its organisation and order, with their provenance, and for no other organisation.
    (vector,) = minilm.embed(["How long may a person stay inside the cold room?"])
    hits = await qdrant.search(vector, org_id=str(world.org), order_id=str(html), limit=3)
    assert hits and all(h.payload["document"] == "QA-SOP-014.html" for h in hits)
    text = (await world.blobs.get(text_key(world.org, sha_of(placed)))).decode()
    assert all(text[h.payload["start"] : h.payload["end"]] == h.payload["text"] for h in hits)
    assert await qdrant.search(vector, org_id=str(uuid.uuid4()), limit=3) == []
    for order_id in (huge, emptied, changed):
        assert await world.events(course_id_of(order_id)) == []


async def test_cancelling_an_order_stops_its_running_job_mid_stage(
    world: World, qdrant: QdrantVectorStore, minilm: Embedder
) -> None:
    # The writer's LLM takes the request and never answers (no timeout for the test's span): the job
    # sits in "write lessons" until something stops it. The cancellation must, not a later order command.
    hung = HungServer()
    base = await hung.start()
    try:
        model = LiteLlmChatModel("openai/test-model", api_base=base, api_key="test", timeout=3600)
        builder = CourseBuilder(every_format(None), minilm, qdrant, LlmWriter(model))
        pipeline = GenerationPipeline(world.bus, world.documents, builder)
        order_id = await world.place([(FORKLIFT, sample(FORKLIFT))])
        async with world.running(pipeline):

            async def writing() -> bool:
                order = await world.order(order_id)
                return order.status == "generating" and order.stage == STAGES.index("write lessons") + 1

            await world.until(writing)
            await world.until(hung.asked)
            await world.bus.handle(o.CancelOrder(order_id=order_id, reason="client withdrew"), world.ctx("sales"))
            await world.until(lambda: _handled(pipeline, 1))  # the job ended while the model still had not answered
            await world.until(hung.let_go)  # and it dropped the request it was waiting on
        types = await world.event_types(order_id)
        assert types[-1] == "OrderCancelled"  # nothing after the cancellation
        assert await world.events(course_id_of(order_id)) == []
    finally:
        await hung.stop()


class HungServer:
    """An HTTP server that reads requests and never answers them (an LLM that hangs)."""

    def __init__(self) -> None:
        self.open = 0
        self.closed = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/v1"

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open += 1
        try:
            while await reader.read(65536):
                pass  # read the request, answer nothing
        finally:
            self.closed += 1
            writer.close()

    async def asked(self) -> bool:
        return self.open > 0

    async def let_go(self) -> bool:
        return self.closed == self.open > 0

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()


def sha_of(order: Order) -> str:
    (sha,) = order.documents
    return sha


async def test_a_rejection_naming_a_lesson_has_it_written_again_and_the_course_submitted_again(
    world: World, pipeline: GenerationPipeline
) -> None:
    order_id = await world.place([(FORKLIFT, sample(FORKLIFT))])
    async with world.running(pipeline):
        await world.until_order(order_id, "draft_ready", "failed")
        course = await assert_one_draft(world, order_id)
        lesson = course.modules[0].lessons[1]
        other = course.modules[0].lessons[0]
        assert course.review_id is not None
        manager = world.ctx("course_manager")
        feedback = "Put the rule about the load backrest and the forks first."
        await world.bus.handle(
            c.RejectCourse(review_id=course.review_id, feedback=feedback, regenerate=[lesson.id]), manager
        )

        async def resubmitted() -> Course | None:
            again = await world.course(course.id)
            return again if again.status == "in_review" else None

        again: Course = await world.until(resubmitted)
    _, rewritten = again.lesson(lesson.id)
    assert len(rewritten.versions) == 2 and rewritten.current == 2  # a new content version
    assert rewritten.content is not None and any(m.title == "Sources" for m in rewritten.content.materials)
    assert len(again.lesson(other.id)[1].versions) == 1  # the others are left as they were
    assert again.review_id != course.review_id
    assert (await world.event_types(course.id)).count("CourseSubmitted") == 2


@pytest.fixture
def pipeline_process(world: World, tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


def _start_pipeline(world: World, data: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CW_")}
    env |= service_env(world.settings) | {
        "CW_ENV": "test",
        "CW_DATA_DIR": str(data),
        "CW_EMBEDDER": "hashing",  # the kill is the point: no model to load in each process
        "CW_PIPELINE_ACK_SECONDS": "3",
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "run", "pipeline"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL
    )


async def test_a_pipeline_process_killed_mid_stage_and_started_again_writes_one_draft(
    world: World, tmp_path: Path, pipeline_process: list[subprocess.Popen[bytes]]
) -> None:
    # The scanned SOP is read by OCR: its stage lasts long enough to be killed in.
    order_id = await world.place([(SCANNED, sample(SCANNED)), (FORKLIFT, sample(FORKLIFT))])
    async with world.relaying():
        pipeline_process.append(_start_pipeline(world, tmp_path / "data"))

        async def extracting() -> bool:
            order = await world.order(order_id)
            return order.status == "generating" and order.stage == 2

        await world.until(extracting)
        pipeline_process[0].send_signal(signal.SIGKILL)
        pipeline_process[0].wait()
        order = await world.order(order_id)
        assert (order.status, order.stage) == ("generating", 2)
        pipeline_process.append(_start_pipeline(world, tmp_path / "data"))
        await world.until_order(order_id, "draft_ready", "failed")
    await assert_one_draft(world, order_id)
