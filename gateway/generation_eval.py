"""`coursewright eval generation DIR` through the real order path, scored from the read side.

Each document of the folder (listed in its facts.json) becomes an order of one organisation, as a
client's would: placed and given its document over the command bus (the document into S3 through
the same command), its documents accepted. The relay publishes the log, the pipeline's
subscriptions (the same `run_pipeline` as `coursewright run pipeline`) generate the draft, the
orders and catalog projectors build the read models, and the course is read back through the
course detail query as its reviewer sees it, with the document's extracted text the pipeline
stored in S3. That course is scored (genpipeline.evaluation): per document and in total, with the
time from the order placed to its draft in review.

It all runs in a scratch of the configured services, removed at the end: a database of its own on
the PostgreSQL server, its own event stream and subject prefix on NATS, its own organisation's
keys in the S3 bucket, and (in local mode) its own Qdrant folder. So it runs beside a live system.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from commands.context import Context
from commands.documents import SopDocuments
from domain.errors import CourseNotFound
from domain.order import OrderNotFound
from gateway.bootstrap import Root
from genpipeline.course_builder import CourseBuilder
from genpipeline.drafting.content import read_lesson
from genpipeline.evaluation import DocumentScore, result_line, score_document, word_accuracy
from genpipeline.manifest import text_key
from genpipeline.service import run_pipeline
from genpipeline.worker import GenerationPipeline
from infra.errors import Unavailable
from infra.eventlog.deadletters import delete_streams
from infra.logging import get_logger
from infra.migrate import drop_database, ensure_database, migrate, with_database
from infra.relay import Relay
from infra.settings import Settings
from projections.queries.catalog import course_detail
from projections.queries.orders import order_detail
from projections.queries.reader import Reader
from projections.workers import run_projectors
from schemas import orders as o
from schemas.orders import OrderDetail
from schemas.readmodels import CourseDetail

log = get_logger(__name__)

FINISHED = ("draft_ready", "failed", "cancelled")
READ_MODELS = ("orders", "catalog")
DOCUMENT_SECONDS = 1800  # a guard against a hang: no document takes that long
Progress = Callable[[str, int, int, str], None]  # (document, stage, of, stage name)


@dataclass(frozen=True)
class _Viewer:
    user_id: UUID
    org_id: UUID
    roles: frozenset[str]


@dataclass(frozen=True)
class Sample:
    """One document of the folder: its facts.json entry, its bytes, its OCR ground truth if any."""

    entry: dict[str, Any]
    data: bytes
    truth: str | None

    @property
    def file(self) -> str:
        return str(self.entry["file"])


def load_folder(folder: Path) -> list[Sample]:
    """Each document's facts entry, its bytes, and the OCR ground truth beside it if any
    (`<stem>.groundtruth.txt`; its lines starting with "#" are notes, not text)."""
    spec = json.loads((folder / "facts.json").read_text())
    out = []
    for entry in spec["documents"]:
        truth = folder / (Path(entry["file"]).stem + ".groundtruth.txt")
        reference = None
        if truth.is_file():
            reference = "\n".join(line for line in truth.read_text().splitlines() if not line.startswith("#"))
        out.append(Sample(entry, (folder / entry["file"]).read_bytes(), reference))
    return out


class OrderPath:
    """The scratch system one evaluation runs in; `run` takes one document from order to course."""

    def __init__(self, root: Root, level: str) -> None:
        self.root = root
        self.level = level
        self.org = uuid4()
        self.sales = Context(uuid4(), self.org, frozenset({"sales"}))
        self.seller = _Viewer(self.sales.actor_id, self.org, frozenset({"sales"}))  # follows the order
        self.manager = _Viewer(uuid4(), self.org, frozenset({"course_manager"}))  # reviews the draft
        self.reader = Reader(root.store.pool, root.cache, wait_seconds=30.0)
        self.components: list[asyncio.Task[None]] = []  # the relay, projectors and pipeline

    async def _pause(self, since: float) -> None:
        """Between two reads of a read model; a component that ended would leave it waiting forever."""
        if time.perf_counter() - since > DOCUMENT_SECONDS:
            raise TimeoutError(f"no draft in review after {DOCUMENT_SECONDS} s")
        for task in self.components:
            if task.done():
                raise RuntimeError(
                    f"{task.get_name()} stopped: {task.exception() if not task.cancelled() else 'cancelled'}"
                )
        await asyncio.sleep(0.2)

    @property
    def documents(self) -> SopDocuments:
        return self.root.ports.documents

    async def place(self, sample: Sample) -> UUID:
        """An order for this document, its document added and accepted, as sales would."""
        brief = o.PlaceOrder(
            client=str(sample.entry.get("company") or "Evaluation"),
            title=str(sample.entry.get("title") or Path(sample.file).stem)[:200],
            cefr_level=self.level,  # type: ignore[arg-type]  # the order checks it
            job_role="staff",
            industry="evaluation",
            language="en",
            learners=1,
            wanted_by=date.today() + timedelta(days=30),
        )
        bus = self.root.bus
        order_id = UUID((await bus.handle(brief, self.sales)).id)
        await bus.handle(o.AddDocument(order_id=order_id, name=sample.file, content=sample.data), self.sales)
        await bus.handle(o.AcceptDocuments(order_id=order_id), self.sales)
        return order_id

    async def until_finished(self, order_id: UUID, progress: Callable[[int, int, str], None]) -> OrderDetail:
        """The order as its read model shows it once drafted, failed or cancelled."""
        since = time.perf_counter()
        while True:
            with contextlib.suppress(OrderNotFound, Unavailable):  # not projected yet
                order = await order_detail(self.reader, self.seller, order_id)
                if order.progress is not None:
                    progress(order.progress.stage, order.progress.of, order.progress.stage_name)
                if order.status in FINISHED:
                    return order
            await self._pause(since)

    async def course(self, course_id: UUID) -> CourseDetail:
        """The draft as its reviewer reads it, once the catalog shows it in review."""
        since = time.perf_counter()
        while True:
            with contextlib.suppress(CourseNotFound, Unavailable):
                course = await course_detail(self.reader, self.manager, course_id, draft=True)
                if course.status == "in_review":
                    return course
            await self._pause(since)

    async def run(self, sample: Sample, progress: Callable[[int, int, str], None]) -> DocumentScore:
        started = time.perf_counter()
        order_id = await self.place(sample)
        order = await self.until_finished(order_id, progress)
        facts = sample.entry.get("facts", [])
        if order.status != "draft_ready" or order.course_id is None:
            reason = order.failure.reason if order.failure is not None else order.status
            score = score_document(sample.file, {}, [], facts, sample.entry.get("traps", []), self.level)
            score.failure = reason
            score.seconds = time.perf_counter() - started
            return score
        course = await self.course(UUID(order.course_id))
        seconds = time.perf_counter() - started
        (document,) = order.documents
        text = (await self.documents.blobs.get(text_key(self.org, document.sha256))).decode()
        lessons = [
            read_lesson(lesson.content) for m in course.modules for lesson in m.lessons if lesson.content is not None
        ]
        score = score_document(
            sample.file, {sample.file: text}, lessons, facts, sample.entry.get("traps", []), self.level
        )
        if sample.truth is not None:
            score.ocr = await asyncio.to_thread(word_accuracy, sample.truth, text)
        score.seconds = seconds
        return score

    async def remove_documents(self) -> None:
        blobs = self.documents.blobs
        for info in await blobs.list(f"orgs/{self.org}/"):
            await blobs.delete(info.key)


def scratch_settings(settings: Settings, data_dir: Path) -> Settings:
    """The configured services, with a database, stream, prefix and Qdrant folder of the run's own."""
    tag = secrets.token_hex(4)
    return settings.model_copy(
        update={
            "pg_dsn": with_database(settings.pg_dsn, f"cw_eval_{tag}"),
            "subject_prefix": f"eval{tag}",
            "events_stream": f"CW_EVENTS_EVAL{tag.upper()}",
            "data_dir": data_dir,
        }
    )


@contextlib.asynccontextmanager
async def order_path(settings: Settings, builder: CourseBuilder, level: str) -> AsyncIterator[OrderPath]:
    """A scratch system on `settings` (see `scratch_settings`) with the relay, the orders and
    catalog projectors and the pipeline running on `builder`; removed on the way out."""
    await ensure_database(settings.pg_dsn)
    try:
        await migrate(settings.pg_dsn)
        async with Root(settings) as root:
            await root.ports.documents.blobs.start()
            path = OrderPath(root, level)
            pipeline = GenerationPipeline(root.bus, root.ports.documents, builder)
            try:
                async with (
                    _background(path, "relay", Relay(settings, root.nats).run()),
                    _background(path, "projectors", run_projectors(settings, root.nats, root.cache, READ_MODELS)),
                    _background(path, "pipeline", run_pipeline(settings, root.nats, pipeline)),
                ):
                    yield path
            finally:
                with contextlib.suppress(Exception):
                    await path.remove_documents()
                await _delete_streams(root, settings)
                await root.ports.documents.blobs.close()
    finally:
        await drop_database(settings.pg_dsn)


async def evaluate_folder(
    folder: Path,
    settings: Settings,
    builder: CourseBuilder,
    *,
    level: str = "B1",
    echo: Callable[[str], None] = print,
    progress: Progress | None = None,
) -> list[DocumentScore]:
    """Every document of the folder through the order path, one after the other; prints a row
    per document and the RESULT line, and returns the scores."""
    samples = await asyncio.to_thread(load_folder, folder)
    scores = []
    with tempfile.TemporaryDirectory(prefix="cw-eval-") as scratch:
        async with order_path(scratch_settings(settings, Path(scratch)), builder, level) as path:
            for sample in samples:

                def report(stage: int, of: int, name: str, file: str = sample.file) -> None:
                    if progress is not None:
                        progress(file, stage, of, name)

                score = await path.run(sample, report)
                scores.append(score)
                echo(row(score))
    echo(result_line(scores))
    return scores


def row(s: DocumentScore) -> str:
    """One document's line of the table."""
    if s.failure:
        return f"{s.file}: FAILED ({s.failure}); facts cited 0/{s.facts}; {s.seconds:.1f} s"
    ocr = f" ocr={100 * s.ocr:.1f}%" if s.ocr is not None else ""
    missed = f" missed={','.join(s.missed)}" if s.missed else ""
    return (
        f"{s.file}: facts taught {s.taught}/{s.facts}, cited {s.cited}/{s.facts};"
        f" citations valid {s.valid_citations}/{s.citations}; uncited items {s.uncited}; traps {s.traps};"
        f" lessons within one CEFR level {s.cefr_ok}/{s.lessons} (measured {' '.join(s.levels)}){ocr};"
        f" order to draft in review {s.seconds:.1f} s{missed}"
    )


async def _delete_streams(root: Root, settings: Settings) -> None:
    with contextlib.suppress(Exception):
        nc = await root.nats.connect_once("cw-eval-cleanup", connect_seconds=2.0)
        try:
            await delete_streams(nc.jetstream(), settings)
        finally:
            await nc.close()


@contextlib.asynccontextmanager
async def _background(path: OrderPath, name: str, work: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    task = asyncio.create_task(work, name=name)
    path.components.append(task)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
