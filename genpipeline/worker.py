"""The order worker: an order whose documents were accepted becomes one course draft in review.

It follows the order events (`infra.eventlog.subscriber.EventSubscriber`, durable, explicit
acks) and runs each accepted (or retried) order as a job of `STAGES`, each reported on the order
before it runs, so HTTP, NATS and `coursewright order status --follow` show stage N of M:

    fetch documents -> extract -> chunk -> embed and index -> plan the outline -> write lessons
    -> check grounding -> write the draft -> submit for review

Exactly one draft per order, whatever happens: the course, its modules and lessons have ids
derived from the order (uuid5), and every command carries an idempotency key derived from the
order, its attempt and the step. A redelivered event, a worker killed mid-stage and restarted,
or two workers on one order therefore repeat steps with no second effect; the draft stage also
compares the course as stored with the one wanted, so a retried order (its documents possibly
changed) brings the same course to the new outline instead of adding a second one.

A document that cannot be read, or documents that teach nothing, fail the order with the stage
and the reason, and the worker goes on with the next order. An outage (S3, PostgreSQL, the LLM)
is raised instead: the event is delivered again later. The draft is written only through the
command bus, then submitted for review; what the grounding check dropped is commented on each
lesson of the review.

A course manager's rejection may name lessons to write again (`RejectCourse.regenerate`): the
worker also follows `CourseRejected` and rewrites those lessons from the same retrieval, the
feedback as an extra instruction, as new content versions, then submits the course again.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from uuid import NAMESPACE_URL, UUID

from commands import codec
from commands.bus import CommandBus
from commands.context import Context
from commands.courses import to_domain_content
from commands.documents import SopDocuments, document_key
from commands.errors import TooMuchContention
from domain import errors
from domain.course import EDITABLE, Course
from domain.ids import name_id
from domain.order import Order, OrderStatusConflict
from genpipeline.chunking import Chunk
from genpipeline.course_builder import CourseBuilder, Ingested
from genpipeline.drafting.content import lesson_content, review_notes
from genpipeline.drafting.draft import LessonDraft, LessonPlan
from genpipeline.drafting.writer import ground
from genpipeline.extraction import Document, ExtractionError
from genpipeline.manifest import DraftManifest, draft_lesson, load_manifest, save_manifest, text_key
from infra.availability import describe
from infra.blobs.port import BlobNotFound
from infra.errors import Unavailable
from infra.eventlog import wire_name
from infra.logging import get_logger
from schemas import commands as c
from schemas import orders as o
from schemas.commands import Command
from schemas.envelope import EventEnvelope
from schemas.readiness import Check, PipelineReadiness
from schemas.results import CommandResult
from schemas.roles import PLATFORM_ADMIN

log = get_logger(__name__)

STAGES: tuple[str, ...] = (
    "fetch documents",
    "extract",
    "chunk",
    "embed and index",
    "plan the outline",
    "write lessons",
    "check grounding",
    "write the draft",
    "submit for review",
)
# The author of every generated course and the actor of every command the pipeline sends.
PIPELINE_ACTOR = name_id(NAMESPACE_URL, "urn:coursewright:generation-pipeline")
STARTS = frozenset({wire_name(Order.DocumentsAccepted), wire_name(Order.Retried)})
# Events that take an order out of generation while a job may be running it: the job stops at once.
STOPS = frozenset({wire_name(Order.Cancelled)})
REJECTED = wire_name(Course.Rejected)
_WORKING = ("documents_accepted", "generating")
# Failures of a service, not of the order: raised, so the subscriber delivers the event again.
TRANSIENT: tuple[type[Exception], ...] = (Unavailable, TooMuchContention, OSError, TimeoutError)


def course_id_of(order_id: UUID) -> UUID:
    """The one course an order's generation drafts."""
    return name_id(order_id, "course")


class OrderFailed(Exception):
    """The order itself cannot be generated (its documents, its outline): it fails, the worker goes on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Stopped(Exception):
    """The order left generation meanwhile (cancelled, or finished by another worker)."""


@dataclasses.dataclass(frozen=True)
class PlannedLesson:
    lesson_id: UUID
    plan: LessonPlan
    own: list[Chunk]


@dataclasses.dataclass(frozen=True)
class PlannedModule:
    module_id: UUID
    title: str
    lessons: list[PlannedLesson]


class GenerationPipeline:
    """Runs generation jobs for order events and regenerations for rejections, on the bus."""

    def __init__(self, bus: CommandBus, documents: SopDocuments, builder: CourseBuilder) -> None:
        self.bus = bus
        self.blobs = documents.blobs
        self.builder = builder
        self._busy: dict[UUID, asyncio.Lock] = {}
        self._running: dict[UUID, asyncio.Task[None]] = {}  # the job of each order running here
        self._stopping: set[UUID] = set()  # orders whose job is being stopped by an order event
        self.handled = 0  # generations asked for and finished (those with nothing to do too)

    # -- the subscriptions' handlers -------------------------------------------------------------

    async def on_order_event(self, env: EventEnvelope) -> None:
        if env.event_type in STARTS:
            await self.generate(env.stream_id, env)

    def on_order_stopped(self, env: EventEnvelope) -> None:
        """An order left generation (cancelled): its job running here stops now, mid-stage,
        instead of at its next command on the order. (A job elsewhere, or one this process
        missed the event for, still stops at that command.)"""
        if env.event_type not in STOPS:
            return
        task = self._running.get(env.stream_id)
        if task is not None and not task.done():
            self._stopping.add(env.stream_id)
            task.cancel()

    async def on_course_event(self, env: EventEnvelope) -> None:
        if env.event_type != REJECTED:
            return
        rejected = codec.decode(env.event_type, env.payload)
        assert isinstance(rejected, Course.Rejected)
        if rejected.regenerate:
            await self.regenerate(env.stream_id, rejected, env)

    # -- generation ------------------------------------------------------------------------------

    async def generate(self, order_id: UUID, cause: EventEnvelope) -> None:
        """Run (or resume) the order's current generation; nothing when it is not generating."""
        async with self._alone(order_id):
            order = await self.order(order_id)
            if order.status not in _WORKING:
                log.info("pipeline.skip", order_id=str(order_id), status=order.status)
            else:
                job = asyncio.create_task(_Job(self, order, cause).run(), name=f"pipeline:job:{order_id}")
                self._running[order_id] = job
                try:
                    await job
                except Stopped:
                    log.info("pipeline.stopped", order_id=str(order_id))
                except asyncio.CancelledError:
                    current = asyncio.current_task()
                    if order_id not in self._stopping or (current is not None and current.cancelling()):
                        raise  # this process is stopping: the event comes again
                    log.info("pipeline.stopped", order_id=str(order_id), reason="the order left generation")
                finally:
                    self._running.pop(order_id, None)
                    self._stopping.discard(order_id)
            self.handled += 1

    @contextlib.asynccontextmanager
    async def _alone(self, key: UUID) -> AsyncIterator[None]:
        """One job per order in this process at a time (other processes are kept apart by the keys)."""
        lock = self._busy.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                yield
        finally:
            if not lock.locked():
                self._busy.pop(key, None)

    async def order(self, order_id: UUID) -> Order:
        """The order as stored now (a job that was refused reads it to know whether to stop)."""
        stored = await self.bus.store.read_stream(order_id)
        events = [codec.decode(e.event_type, e.payload) for e in stored]
        return Order.replay(order_id, events, stored[-1].position if stored else 0)

    async def readiness(self, llm_configured: bool, seconds: float) -> PipelineReadiness:
        """How the vector store and the writer's model answer now (each call bounded by `seconds`)."""

        async def check(call: Callable[[], Awaitable[None]]) -> Check:
            try:
                async with asyncio.timeout(seconds):
                    await call()
            except TimeoutError:
                return Check(status="down", detail=f"no answer within {seconds:g} s")
            except Exception as e:
                return Check(status="down", detail=describe(e))
            return Check(status="ok")

        qdrant = await check(self.builder.store.ping)
        llm = await check(self.builder.writer.ping) if llm_configured else Check(status="disabled")
        return PipelineReadiness(qdrant=qdrant, llm=llm)

    async def course(self, course_id: UUID) -> Course:
        stored = await self.bus.store.read_stream(course_id)
        events = [codec.decode(e.event_type, e.payload) for e in stored]
        return Course.replay(course_id, events, stored[-1].position if stored else 0)

    # -- regeneration ----------------------------------------------------------------------------

    async def regenerate(self, course_id: UUID, rejected: Course.Rejected, cause: EventEnvelope) -> None:
        """Write the lessons a rejection names again, then submit the course again."""
        if cause.org_id is None:
            return
        manifest = await load_manifest(self.blobs, UUID(cause.org_id), course_id)
        if manifest is None:  # not a course the pipeline wrote
            return
        async with self._alone(course_id):
            ctx = Context(
                PIPELINE_ACTOR,
                manifest.org_id,
                frozenset({PLATFORM_ADMIN}),
                correlation_id=cause.correlation_id,
                causation_id=str(cause.event_id),
            )
            prefix = f"pipeline:{course_id}:review:{rejected.review_id}"

            async def send(command: Command, step: str) -> CommandResult:
                return await self.bus.handle(command, dataclasses.replace(ctx, idempotency_key=f"{prefix}:{step}"))

            rewritten: list[tuple[UUID, LessonDraft]] = []
            for lesson_id in rejected.regenerate:
                lesson = manifest.lesson(lesson_id)
                if lesson is None:
                    log.info("pipeline.regenerate_unknown_lesson", course_id=str(course_id), lesson_id=str(lesson_id))
                    continue
                draft = await self.builder.write(
                    manifest.org_id, manifest.order_id, lesson.plan, lesson.own(), manifest.level, rejected.feedback
                )
                rewritten.append((lesson_id, draft))
            try:
                for lesson_id, draft in rewritten:
                    content = lesson_content(draft)
                    command = c.SetLessonContent(course_id=course_id, lesson_id=lesson_id, content=content)
                    await send(command, f"lesson:{lesson_id}:content")
                course = await self.course(course_id)
                if rewritten and course.status == "rejected":
                    submitted = await send(c.SubmitCourse(course_id=course_id), "submit")
                    review_id = UUID(submitted.data["review_id"])
                    for lesson_id, draft in rewritten:
                        await _comment(send, review_id, lesson_id, draft, f"notes:{lesson_id}")
            except (errors.CourseNotEditable, errors.CourseNotSubmittable, errors.LessonNotFound) as e:
                # An author changed the course meanwhile (resubmitted it, removed the lesson).
                log.info("pipeline.regenerate_skipped", course_id=str(course_id), reason=str(e))
                return
            log.info("pipeline.regenerated", course_id=str(course_id), lessons=len(rewritten))


_Send = Callable[[Command, str], Awaitable[CommandResult]]


async def _comment(send: _Send, review_id: UUID, lesson_id: UUID, draft: LessonDraft, step: str) -> None:
    """Tell the reviewer the lesson's measured level and what the grounding check dropped."""
    try:
        await send(c.CommentOnReview(review_id=review_id, lesson_id=lesson_id, text=review_notes(draft)[:10_000]), step)
    except errors.ReviewClosed:
        pass  # decided already: the notes are moot


class _Job:
    """One attempt at one order's generation."""

    def __init__(self, pipeline: GenerationPipeline, order: Order, cause: EventEnvelope) -> None:
        assert order.org_id is not None and order.brief is not None
        self.pipeline = pipeline
        self.bus = pipeline.bus
        self.builder = pipeline.builder
        self.order = order
        self.order_id = order.id
        self.org_id = order.org_id
        self.brief = order.brief
        self.course_id = course_id_of(order.id)
        # The attempt this job runs: the running one, or the one it is about to start.
        self.attempt = order.attempt if order.status == "generating" else order.attempt + 1
        self.ctx = Context(
            PIPELINE_ACTOR,
            order.org_id,
            frozenset({PLATFORM_ADMIN}),
            correlation_id=cause.correlation_id,
            causation_id=str(cause.event_id),
        )
        self.stage = 0
        self.log = log.bind(order_id=str(order.id), attempt=self.attempt, correlation_id=cause.correlation_id)

    async def send(self, command: Command, step: str) -> CommandResult:
        key = f"pipeline:{self.order_id}:{self.attempt}:{step}"
        return await self.bus.handle(command, dataclasses.replace(self.ctx, idempotency_key=key))

    async def order_command(self, command: Command, step: str) -> CommandResult:
        """A command on the order; the order having left generation stops the job."""
        try:
            return await self.send(command, step)
        except OrderStatusConflict as e:
            order = await self.pipeline.order(self.order_id)
            if order.status not in _WORKING or order.attempt != self.attempt:
                raise Stopped(str(e)) from e
            raise

    async def enter(self, stage: int) -> None:
        self.stage = stage
        await self.order_command(o.AdvanceGeneration(order_id=self.order_id, stage=stage), f"stage:{stage}")
        self.log.info("pipeline.stage", stage=stage, of=len(STAGES), name=STAGES[stage - 1])

    async def run(self) -> None:
        await self.order_command(o.StartGeneration(order_id=self.order_id, stages=list(STAGES)), "start")
        try:
            await self.enter(1)
            files = await self.fetch()
            await self.enter(2)
            documents = await self.extract(files)
            await self.enter(3)
            ingested = [Ingested(d, await asyncio.to_thread(self.builder.chunk, d)) for d in documents]
            await self.enter(4)
            # One embedding call for every document's chunks: full batches, sorted by length
            # across documents (less padding), instead of a partial batch per document.
            await self.builder.index(self.org_id, self.order_id, [c for i in ingested for c in i.chunks])
            await self.enter(5)
            modules = self.plan(ingested)
            await self.enter(6)
            composed = [(lesson, await self.compose(lesson)) for m in modules for lesson in m.lessons]
            await self.enter(7)
            level = self.brief.cefr_level
            drafts = {lesson.lesson_id: await asyncio.to_thread(ground, d, level) for lesson, d in composed}
            await self.enter(8)
            await self.write_draft(modules, drafts)
            await self.enter(9)
            await self.submit(modules, drafts)
        except TRANSIENT:
            raise  # an outage: the event comes again (the steps done stay done)
        except Stopped:
            raise
        except OrderFailed as e:
            await self.fail(e.reason)
            return
        except Exception as e:
            # Not an outage and not the documents: it would fail the same way on every delivery.
            # The order fails with it (sales may retry once it is fixed); the queue goes on.
            self.log.exception("pipeline.job_error", stage=self.stage)
            await self.fail(f"{STAGES[max(self.stage, 1) - 1]} failed: {type(e).__name__}: {e}")
            return
        await self.order_command(o.RecordDraft(order_id=self.order_id, course_id=self.course_id), "draft")
        self.log.info("pipeline.draft_ready", course_id=str(self.course_id))

    async def fail(self, reason: str) -> None:
        self.log.warning("pipeline.order_failed", stage=self.stage, reason=reason)
        await self.order_command(o.FailGeneration(order_id=self.order_id, reason=reason[:2000]), "fail")

    # -- the stages --------------------------------------------------------------------------------

    async def fetch(self) -> list[tuple[str, str, bytes]]:
        """(sha256, name, bytes) of each document, in the order they were added."""
        out = []
        for sha, document in self.order.documents.items():
            try:
                data = await self.pipeline.blobs.get(document_key(self.org_id, sha))
            except BlobNotFound as e:
                raise OrderFailed(f"{document.name}: the document is missing from storage") from e
            found = await asyncio.to_thread(_sha256, data)
            if found != sha:
                raise OrderFailed(
                    f"{document.name}: the stored copy is not the document added to the order"
                    f" (its SHA-256 is {found}, {len(data)} bytes; the order recorded {sha}, {document.size} bytes)"
                )
            out.append((sha, document.name, data))
        return out

    async def extract(self, files: Sequence[tuple[str, str, bytes]]) -> list[Document]:
        """Each document's blocks; its text is stored beside it, for citations to be checked later."""
        documents = []
        for sha, name, data in files:
            try:
                document = await self.builder.extract(name, data)
            except ExtractionError as e:
                raise OrderFailed(f"{e.name}: {e.reason}") from e
            await self.pipeline.blobs.put(text_key(self.org_id, sha), document.text.encode(), "text/plain")
            documents.append(document)
        return documents

    def plan(self, ingested: Sequence[Ingested]) -> list[PlannedModule]:
        outline = self.builder.outline(self.brief.title, ingested)
        chunks = {c.key: c for i in ingested for c in i.chunks}
        modules = []
        for m, module in enumerate(outline.modules):
            module_id = name_id(self.order_id, f"module:{m}:{module.title}")
            lessons = [
                PlannedLesson(
                    name_id(self.order_id, f"lesson:{m}:{n}:{plan.section}:{plan.title}"),
                    plan,
                    [chunks[k] for k in plan.chunks],
                )
                for n, plan in enumerate(module.lessons)
            ]
            modules.append(PlannedModule(module_id, module.title, lessons))
        if not modules:
            raise OrderFailed("no section of the documents states a rule, a limit or a step to teach")
        return modules

    async def compose(self, lesson: PlannedLesson) -> LessonDraft:
        sources = await self.builder.sources(self.org_id, self.order_id, lesson.plan, lesson.own)
        return await self.builder.writer.compose(lesson.plan, sources, self.brief.cefr_level, "")

    async def write_draft(self, modules: list[PlannedModule], drafts: dict[UUID, LessonDraft]) -> None:
        """Bring the order's course to the planned outline and contents (from nothing, or from
        what an earlier run of this order wrote), through the bus."""
        manifest = DraftManifest(
            self.order_id,
            self.org_id,
            self.course_id,
            self.brief.cefr_level,
            tuple(draft_lesson(lesson.lesson_id, lesson.plan, lesson.own) for m in modules for lesson in m.lessons),
        )
        await save_manifest(self.pipeline.blobs, manifest)
        course = await self.pipeline.course(self.course_id)
        if not course.exists:
            await self.send(self.create_course(), "course")
            course = await self.pipeline.course(self.course_id)
        if course.status not in EDITABLE:
            return  # submitted by an earlier run of this attempt
        course_id = self.course_id
        existing = {m.id: m for m in course.modules}
        wanted = {m.module_id for m in modules}
        for module_id in existing.keys() - wanted:
            await self.send(c.RemoveModule(course_id=course_id, module_id=module_id), f"module:{module_id}:remove")
        for index, module in enumerate(modules):
            have = existing.get(module.module_id)
            if have is None:
                add = c.AddModule(course_id=course_id, title=module.title, module_id=module.module_id, index=index)
                await self.send(add, f"module:{module.module_id}")
            elif have.title != module.title:
                rename = c.RenameModule(course_id=course_id, module_id=module.module_id, title=module.title)
                await self.send(rename, f"module:{module.module_id}:title")
            lessons = {lesson.id: lesson for lesson in have.lessons} if have else {}
            for lesson_id in lessons.keys() - {lesson.lesson_id for lesson in module.lessons}:
                await self.send(c.RemoveLesson(course_id=course_id, lesson_id=lesson_id), f"lesson:{lesson_id}:remove")
            for n, planned in enumerate(module.lessons):
                lesson_id = planned.lesson_id
                if lesson_id not in lessons:
                    add_lesson = c.AddLesson(
                        course_id=course_id,
                        module_id=module.module_id,
                        title=planned.plan.title[:200],
                        duration_minutes=_minutes(drafts[lesson_id]),
                        lesson_id=lesson_id,
                        index=n,
                    )
                    await self.send(add_lesson, f"lesson:{lesson_id}")
                content = lesson_content(drafts[lesson_id])
                current = lessons[lesson_id].content if lesson_id in lessons else None
                if current != to_domain_content(content):
                    set_content = c.SetLessonContent(course_id=course_id, lesson_id=lesson_id, content=content)
                    await self.send(set_content, f"lesson:{lesson_id}:content")

    def create_course(self) -> c.CreateCourse:
        brief = self.brief
        count = len(self.order.documents)
        description = (
            f"Drafted by the generation pipeline from {count} SOP document{'s' if count != 1 else ''} of "
            f"{brief.client} for {brief.learners.job_role} in {brief.learners.industry} (order {self.order_id})."
        )
        return c.CreateCourse(
            course_id=self.course_id,
            title=brief.title,
            description=description[:20_000],
            cefr_level=brief.cefr_level,  # type: ignore[arg-type]  # the order validated it
            category=brief.learners.industry[:80],
            tags=["generated"],
        )

    async def submit(self, modules: list[PlannedModule], drafts: dict[UUID, LessonDraft]) -> None:
        course = await self.pipeline.course(self.course_id)
        if course.status in EDITABLE:
            submitted = await self.send(c.SubmitCourse(course_id=self.course_id), "submit")
            review_id = UUID(submitted.data["review_id"])
        elif course.review_id is not None:
            review_id = course.review_id
        else:
            return
        for module in modules:
            for lesson in module.lessons:
                draft = drafts[lesson.lesson_id]
                await _comment(self.send, review_id, lesson.lesson_id, draft, f"notes:{lesson.lesson_id}")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _minutes(draft: LessonDraft) -> int:
    """About a minute per item a learner reads or answers, five at least."""
    return max(5, min(120, len(draft.items())))
