"""Handlers of the order commands: sales place orders and attach SOP documents; the generation
pipeline reports its progress; sales cancel, retry and deliver."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar
from uuid import UUID

from commands.bus import Decided
from commands.session import Session
from domain.course import Course
from domain.documents import DocumentTooLarge, UnsupportedDocument, UploadMismatch
from domain.ids import new_id
from domain.order import Brief, Learners, Order
from schemas import orders as o


class _OnOrder(Protocol):
    @property
    def order_id(self) -> UUID: ...


C = TypeVar("C", bound=_OnOrder)


def _order(order: Order, **data: object) -> Decided:
    return Decided(order, "order", dict(data))


async def place_order(cmd: o.PlaceOrder, s: Session) -> Decided:
    # A fresh random id cannot exist yet: only a client-chosen id needs the read.
    order = await s.load(Order, cmd.order_id) if cmd.order_id else s.track(Order.blank(new_id()))
    brief = Brief(
        client=cmd.client,
        title=cmd.title,
        cefr_level=cmd.cefr_level,
        learners=Learners(cmd.job_role, cmd.industry, cmd.language, cmd.learners),
        wanted_by=cmd.wanted_by,
        notes=cmd.notes,
    )
    order.place(s.ctx.org_id, s.ctx.actor_id, brief, s.now.date())
    return _order(order)


async def add_document(cmd: o.AddDocument, s: Session) -> Decided:
    order = await s.existing(Order, cmd.order_id)
    documents = s.ports.documents
    document = documents.checked(cmd.content, cmd.name, s.ctx.actor_id)
    if order.add_document(document, documents.order_max_bytes):
        assert order.org_id is not None
        await documents.store(order.org_id, document, cmd.content)  # S3 down: nothing is committed
    return _order(order, sha256=document.sha256, media_type=document.media_type, size=document.size)


async def begin_document_upload(cmd: o.BeginDocumentUpload, s: Session) -> Decided:
    order = await s.existing(Order, cmd.order_id)
    order.require_open_for_documents()
    assert order.org_id is not None
    upload = await s.ports.documents.begin_upload(order.org_id, order.id)
    return _order(
        order,
        upload_id=str(upload.upload_id),
        url=upload.url,
        method="PUT",
        expires_in_seconds=int(upload.expires_in.total_seconds()),
    )


async def complete_document_upload(cmd: o.CompleteDocumentUpload, s: Session) -> Decided:
    order = await s.existing(Order, cmd.order_id)
    order.require_open_for_documents()
    assert order.org_id is not None
    documents = s.ports.documents
    try:
        document = await documents.complete_upload(
            order.org_id,
            order.id,
            cmd.upload_id,
            name=cmd.name,
            size=cmd.size,
            sha256=cmd.sha256,
            uploaded_by=s.ctx.actor_id,
        )
    except (UploadMismatch, DocumentTooLarge, UnsupportedDocument):
        if not s.speculated:  # decided on a fresh read: the refusal is final
            await documents.discard_upload(order.org_id, order.id, cmd.upload_id)
        raise
    order.add_document(document, documents.order_max_bytes)
    return _order(order, sha256=document.sha256, media_type=document.media_type, size=document.size)


def _decided_on_order(
    kind: type[C], decide: Callable[[Order, C, Session], object]
) -> Callable[[C, Session], Awaitable[Decided]]:
    """The handler of a command that loads its order and calls one of its decisions."""

    async def handle(cmd: C, s: Session) -> Decided:
        order = await s.existing(Order, cmd.order_id)
        decide(order, cmd, s)
        return _order(order)

    handle.__name__ = handle.__qualname__ = f"handle_{kind.__name__}"
    return handle


# One decision each, named by the command (commands/routes.py maps the commands to them).
remove_document = _decided_on_order(o.RemoveDocument, lambda order, cmd, s: order.remove_document(cmd.sha256))
accept_documents = _decided_on_order(o.AcceptDocuments, lambda order, cmd, s: order.accept_documents(s.ctx.actor_id))
cancel_order = _decided_on_order(o.CancelOrder, lambda order, cmd, s: order.cancel(s.ctx.actor_id, cmd.reason))
retry_order = _decided_on_order(o.RetryOrder, lambda order, cmd, s: order.retry(s.ctx.actor_id))
advance_generation = _decided_on_order(o.AdvanceGeneration, lambda order, cmd, s: order.start_stage(cmd.stage))
record_draft = _decided_on_order(o.RecordDraft, lambda order, cmd, s: order.draft_ready(cmd.course_id))
fail_generation = _decided_on_order(o.FailGeneration, lambda order, cmd, s: order.fail(cmd.reason))


async def deliver_order(cmd: o.DeliverOrder, s: Session) -> Decided:
    order = await s.existing(Order, cmd.order_id)
    course = await s.view(Course, order.course_id) if order.course_id else None
    order.deliver(course)
    return _order(order, course_id=str(order.course_id))


async def start_generation(cmd: o.StartGeneration, s: Session) -> Decided:
    order = await s.existing(Order, cmd.order_id)
    order.start_generation(tuple(cmd.stages))
    return _order(order, attempt=order.attempt)
