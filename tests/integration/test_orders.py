"""Order commands end to end on the real event store and the real S3: every transition and its
refusal, roles, tenancy, documents stored once, bad documents and S3 down leaving nothing."""

from __future__ import annotations

import hashlib
import uuid
from datetime import date, timedelta
from typing import Any

import msgspec
import pytest

from commands.bus import CommandBus
from commands.context import Context
from commands.documents import SopDocuments, document_key
from commands.errors import PermissionDenied
from commands.routes import ROUTES
from domain.documents import UnsupportedDocument, UploadMismatch
from domain.order import (
    DocumentsLocked,
    NotCancellable,
    NotRetryable,
    Order,
    OrderNotFound,
    OrderStatusConflict,
    OrderTooLarge,
)
from infra.blobs.s3 import S3BlobStore
from infra.errors import Unavailable
from infra.eventlog.postgres import PostgresEventStore
from schemas import commands as c
from schemas import orders as o
from schemas.results import CommandResult
from schemas.roles import Role
from tests.integration.presigned import http
from tests.ports import make_ports

MD = b"# Forklift inspection\n\n1. Check the forks for cracks before every shift.\n"
PDF = b"%PDF-1.7\n" + b"scanned page " * 2000
STAGES = ["fetch", "extract", "draft"]
# A PlaceOrder as JSON, the body every edge's tests send.
ORDER: dict[str, Any] = {
    "client": "Acme Logistics",
    "title": "Forklift safety",
    "cefr_level": "B1",
    "job_role": "warehouse operator",
    "industry": "logistics",
    "language": "pl",
    "learners": 12,
    "wanted_by": str(date.today() + timedelta(days=30)),
}


def documents_on(blobs: S3BlobStore) -> SopDocuments:
    return SopDocuments(blobs, max_bytes=100_000, order_max_bytes=150_000)


class Sales:
    """One organisation: a sales person, a manager, the pipeline (a platform admin)."""

    def __init__(self, bus: CommandBus, org: uuid.UUID | None = None) -> None:
        self.bus = bus
        self.org = org or uuid.uuid4()
        self.sales = self.ctx("sales")
        self.pipeline = self.ctx("platform_admin")

    def ctx(self, *roles: Role, key: str | None = None) -> Context:
        return Context(uuid.uuid4(), self.org, frozenset(roles), idempotency_key=key)

    async def place(self, ctx: Context | None = None, **changes: object) -> uuid.UUID:
        command = msgspec.convert(ORDER | changes, o.PlaceOrder)
        r = await self.bus.handle(command, ctx or self.sales)
        return uuid.UUID(r.id)

    async def add(self, order: uuid.UUID, content: bytes = MD, name: str = "forklift.md") -> CommandResult:
        return await self.bus.handle(o.AddDocument(order_id=order, name=name, content=content), self.sales)

    async def generating(self) -> uuid.UUID:
        order = await self.place()
        await self.add(order)
        await self.bus.handle(o.AcceptDocuments(order_id=order), self.sales)
        await self.bus.handle(o.StartGeneration(order_id=order, stages=STAGES), self.pipeline)
        return order


async def order_of(store: PostgresEventStore, order_id: uuid.UUID) -> Order:
    from commands.codec import decode

    events = await store.read_stream(order_id)
    return Order.replay(order_id, [decode(e.event_type, bytes(e.payload)) for e in events])


@pytest.fixture
def world(store: PostgresEventStore, blobs: S3BlobStore) -> Sales:
    return Sales(CommandBus(store, ROUTES, make_ports(documents=documents_on(blobs))))


async def test_an_order_goes_from_placed_to_delivered(world: Sales, store: PostgresEventStore) -> None:
    order = await world.place()
    added = await world.add(order)
    assert added.data["sha256"] == hashlib.sha256(MD).hexdigest() and added.data["media_type"] == "text/markdown"
    again = await world.add(order, name="copy.md")
    assert again.version == added.version  # the same content is attached once
    await world.bus.handle(o.AcceptDocuments(order_id=order), world.sales)
    started = await world.bus.handle(o.StartGeneration(order_id=order, stages=STAGES), world.pipeline)
    assert started.data == {"attempt": 1}
    for stage in (1, 2, 3):
        await world.bus.handle(o.AdvanceGeneration(order_id=order, stage=stage), world.pipeline)
    author = world.ctx("course_manager")
    course = uuid.UUID(
        (await world.bus.handle(c.CreateCourse(title="Forklifts", cefr_level="B1", category="safety"), author)).id
    )
    await world.bus.handle(o.RecordDraft(order_id=order, course_id=course), world.pipeline)
    with pytest.raises(OrderStatusConflict, match="not published"):
        await world.bus.handle(o.DeliverOrder(order_id=order), world.sales)
    m = await world.bus.handle(c.AddModule(course_id=course, title="Basics"), author)
    lr = await world.bus.handle(
        c.AddLesson(course_id=course, module_id=uuid.UUID(m.data["module_id"]), title="Forks"), author
    )
    content = c.LessonContent(materials=[c.Material(kind="text", title="Forks", body="Check them.")])
    await world.bus.handle(
        c.SetLessonContent(course_id=course, lesson_id=uuid.UUID(lr.data["lesson_id"]), content=content), author
    )
    review = (await world.bus.handle(c.SubmitCourse(course_id=course), author)).data["review_id"]
    await world.bus.handle(c.ApproveCourse(review_id=uuid.UUID(review)), world.ctx("course_manager"))
    await world.bus.handle(c.PublishCourse(course_id=course), author)
    delivered = await world.bus.handle(o.DeliverOrder(order_id=order), world.sales)
    assert delivered.data == {"course_id": str(course)}
    stored = await order_of(store, order)
    assert (stored.status, stored.course_id, stored.progress, len(stored.documents)) == ("delivered", course, (3, 3), 1)
    with pytest.raises(NotCancellable):
        await world.bus.handle(o.CancelOrder(order_id=order), world.sales)


async def test_refusals_of_the_lifecycle(world: Sales, store: PostgresEventStore) -> None:
    order = await world.generating()
    with pytest.raises(DocumentsLocked):
        await world.add(order, PDF, "late.pdf")
    with pytest.raises(NotRetryable):
        await world.bus.handle(o.RetryOrder(order_id=order), world.sales)
    await world.bus.handle(o.AdvanceGeneration(order_id=order, stage=2), world.pipeline)
    await world.bus.handle(o.FailGeneration(order_id=order, reason="the PDF is encrypted"), world.pipeline)
    failed = await order_of(store, order)
    assert failed.failure == Order.Failed(2, "extract", "the PDF is encrypted")
    await world.bus.handle(o.RetryOrder(order_id=order), world.sales)
    again = await world.bus.handle(o.StartGeneration(order_id=order, stages=STAGES), world.pipeline)
    assert again.data == {"attempt": 2}
    await world.bus.handle(o.CancelOrder(order_id=order, reason="client withdrew"), world.sales)
    assert (await order_of(store, order)).status == "cancelled"


async def test_roles_and_tenancy(world: Sales, store: PostgresEventStore) -> None:
    for roles in [("student",), ("instructor",), ("course_manager",)]:
        with pytest.raises(PermissionDenied):
            await world.place(world.ctx(*roles))
    order = await world.place(world.ctx("org_admin"))
    with pytest.raises(PermissionDenied):  # only the pipeline reports generation
        await world.bus.handle(o.StartGeneration(order_id=order, stages=STAGES), world.sales)
    other = Sales(world.bus)
    version = (await store.read_stream(order))[-1].version
    for command in [o.AcceptDocuments(order_id=order), o.CancelOrder(order_id=order)]:
        with pytest.raises(OrderNotFound):
            await other.bus.handle(command, other.sales)
    with pytest.raises(OrderNotFound):
        await other.add(order)
    assert (await store.read_stream(order))[-1].version == version


async def test_a_bad_document_leaves_the_order_and_the_store_unchanged(
    world: Sales, store: PostgresEventStore, blobs: S3BlobStore
) -> None:
    order = await world.place()
    with pytest.raises(UnsupportedDocument):
        await world.add(order, b"MZ\x90\x00 not a pdf", "sop.pdf")
    await world.add(order, b"%PDF-1.7\n" + bytes(90_000), "big.pdf")
    with pytest.raises(OrderTooLarge):  # 90 kB + 90 kB > 150 kB per order
        await world.add(order, b"%PDF-1.6\n" + bytes(90_000), "big2.pdf")
    assert len(await store.read_stream(order)) == 2
    assert len(await blobs.list(f"orgs/{world.org}/")) == 1


async def test_s3_down_fails_the_command_and_changes_nothing(store: PostgresEventStore) -> None:
    down = S3BlobStore("http://127.0.0.1:9", "k", "s", "nowhere")
    world = Sales(CommandBus(store, ROUTES, make_ports(documents=documents_on(down))))
    order = await world.place()
    with pytest.raises(Unavailable):
        await world.add(order)
    assert len(await store.read_stream(order)) == 1


async def test_a_large_document_by_presigned_upload(
    world: Sales, store: PostgresEventStore, blobs: S3BlobStore
) -> None:
    order = await world.place()
    begun = await world.bus.handle(o.BeginDocumentUpload(order_id=order), world.sales)
    assert await http("PUT", begun.data["url"], PDF) == (200, b"")
    complete = o.CompleteDocumentUpload(
        order_id=order,
        upload_id=uuid.UUID(begun.data["upload_id"]),
        name="scan.pdf",
        size=len(PDF),
        sha256=hashlib.sha256(PDF).hexdigest(),
    )
    done = await world.bus.handle(complete, world.sales)
    assert done.data["media_type"] == "application/pdf"
    assert (await world.bus.handle(complete, world.sales)).version == done.version  # completing twice: once
    assert await blobs.get(document_key(world.org, hashlib.sha256(PDF).hexdigest())) == PDF
    bad = await world.bus.handle(o.BeginDocumentUpload(order_id=order), world.sales)
    await http("PUT", bad.data["url"], PDF)
    with pytest.raises(UploadMismatch):
        await world.bus.handle(
            o.CompleteDocumentUpload(
                order_id=order, upload_id=uuid.UUID(bad.data["upload_id"]), name="x.pdf", size=len(PDF), sha256="0" * 64
            ),
            world.sales,
        )
    assert len((await order_of(store, order)).documents) == 1


async def test_placing_with_an_idempotency_key_places_once(world: Sales) -> None:
    key = world.ctx("sales", key="crm-order-4711")
    first = await world.place(key)
    assert await world.place(key) == first
