"""Handlers of the order commands: sales place orders and attach SOP documents; the generation
pipeline reports its progress; sales cancel, retry and deliver."""

from __future__ import annotations

from commands.bus import Decided
from commands.session import Session
from domain.course import Course
from domain.documents import DocumentTooLarge, UnsupportedDocument, UploadMismatch
from domain.ids import new_id
from domain.order import Brief, Learners, Order
from schemas import orders as o


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


async def remove_document(cmd: o.RemoveDocument, s: Session) -> Decided:
    order = await s.existing(Order, cmd.order_id)
    order.remove_document(cmd.sha256)
    return _order(order)


async def accept_documents(cmd: o.AcceptDocuments, s: Session) -> Decided:
    order = await s.existing(Order, cmd.order_id)
    order.accept_documents(s.ctx.actor_id)
    return _order(order)


async def cancel_order(cmd: o.CancelOrder, s: Session) -> Decided:
    order = await s.existing(Order, cmd.order_id)
    order.cancel(s.ctx.actor_id, cmd.reason)
    return _order(order)


async def retry_order(cmd: o.RetryOrder, s: Session) -> Decided:
    order = await s.existing(Order, cmd.order_id)
    order.retry(s.ctx.actor_id)
    return _order(order)


async def deliver_order(cmd: o.DeliverOrder, s: Session) -> Decided:
    order = await s.existing(Order, cmd.order_id)
    course = await s.view(Course, order.course_id) if order.course_id else None
    order.deliver(course)
    return _order(order, course_id=str(order.course_id))


async def start_generation(cmd: o.StartGeneration, s: Session) -> Decided:
    order = await s.existing(Order, cmd.order_id)
    order.start_generation(tuple(cmd.stages))
    return _order(order, attempt=order.attempt)


async def advance_generation(cmd: o.AdvanceGeneration, s: Session) -> Decided:
    order = await s.existing(Order, cmd.order_id)
    order.start_stage(cmd.stage)
    return _order(order)


async def record_draft(cmd: o.RecordDraft, s: Session) -> Decided:
    order = await s.existing(Order, cmd.order_id)
    order.draft_ready(cmd.course_id)
    return _order(order)


async def fail_generation(cmd: o.FailGeneration, s: Session) -> Decided:
    order = await s.existing(Order, cmd.order_id)
    order.fail(cmd.reason)
    return _order(order)
