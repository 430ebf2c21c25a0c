"""Orders on the wire: the order commands and the `orders` read model's answers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from schemas.commands import Cefr, Command, Text, Title

Name = Annotated[str, Meta(min_length=1, max_length=200)]
Sha256 = Annotated[str, Meta(pattern="^[0-9a-f]{64}$")]
Reason = Annotated[str, Meta(max_length=2000)]
Stage = Annotated[str, Meta(min_length=1, max_length=80)]
OrderStatus = Literal["placed", "documents_accepted", "generating", "draft_ready", "delivered", "cancelled", "failed"]
# A document sent inside a request; larger ones go by presigned upload. Base64 in JSON grows it
# by a third: this keeps a request under NATS's default 1 MiB payload.
INLINE_DOCUMENT_BYTES = 700 * 1024


# -- commands ----------------------------------------------------------------------------------


class PlaceOrder(Command, kw_only=True, frozen=True):
    order_id: UUID | None = None  # the client may choose the id (idempotent placement)
    client: Title
    title: Title
    cefr_level: Cefr
    job_role: Title
    industry: Title
    language: Annotated[str, Meta(min_length=2, max_length=40)]
    learners: Annotated[int, Meta(ge=1, le=1_000_000)]
    wanted_by: date
    notes: Text = ""


class AddDocument(Command, kw_only=True, frozen=True):
    """A document sent whole (base64 in JSON)."""

    order_id: UUID
    name: Name
    content: Annotated[bytes, Meta(min_length=1, max_length=INLINE_DOCUMENT_BYTES)]


class BeginDocumentUpload(Command, kw_only=True, frozen=True):
    """Ask for a presigned URL to PUT a large document to; answered with upload_id and url."""

    order_id: UUID


class CompleteDocumentUpload(Command, kw_only=True, frozen=True):
    order_id: UUID
    upload_id: UUID
    name: Name
    size: Annotated[int, Meta(ge=1)]
    sha256: Sha256


class RemoveDocument(Command, kw_only=True, frozen=True):
    order_id: UUID
    sha256: Sha256


class AcceptDocuments(Command, kw_only=True, frozen=True):
    order_id: UUID


class CancelOrder(Command, kw_only=True, frozen=True):
    order_id: UUID
    reason: Reason = ""


class RetryOrder(Command, kw_only=True, frozen=True):
    order_id: UUID


class DeliverOrder(Command, kw_only=True, frozen=True):
    """The order's course has been published: the order is fulfilled."""

    order_id: UUID


class StartGeneration(Command, kw_only=True, frozen=True):
    order_id: UUID
    stages: Annotated[list[Stage], Meta(min_length=1, max_length=50)]


class AdvanceGeneration(Command, kw_only=True, frozen=True):
    order_id: UUID
    stage: Annotated[int, Meta(ge=1, le=50)]


class RecordDraft(Command, kw_only=True, frozen=True):
    order_id: UUID
    course_id: UUID


class FailGeneration(Command, kw_only=True, frozen=True):
    order_id: UUID
    reason: Annotated[str, Meta(min_length=1, max_length=2000)]


# -- the read model ----------------------------------------------------------------------------


class OrderDocument(msgspec.Struct, kw_only=True):
    sha256: str
    name: str
    media_type: str
    size: int
    uploaded_by: str
    added_at: datetime


class TimelineEntry(msgspec.Struct, kw_only=True):
    position: int
    at: datetime
    event: str
    actor_id: str | None
    summary: str


class OrderProgress(msgspec.Struct, kw_only=True):
    attempt: int
    stage: int
    of: int
    stage_name: str


class OrderFailure(msgspec.Struct, kw_only=True):
    stage: int
    stage_name: str
    reason: str


class OrderSummary(msgspec.Struct, kw_only=True):
    order_id: str
    client: str
    title: str
    cefr_level: str
    learners: int
    wanted_by: date
    status: OrderStatus
    placed_by: str
    placed_at: datetime
    updated_at: datetime
    progress: OrderProgress | None
    course_id: str | None
    document_count: int


class OrderDetail(OrderSummary, kw_only=True):
    org_id: str
    job_role: str
    industry: str
    language: str
    notes: str
    failure: OrderFailure | None
    cancel_reason: str
    documents: list[OrderDocument]
    timeline: list[TimelineEntry]


class OrderList(msgspec.Struct, kw_only=True):
    items: list[OrderSummary]
    position: int


# -- queries (the NATS API's requests; HTTP takes the same as query parameters) -----------------


class OrderQuery(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    position: Annotated[int, Meta(ge=0)] | None = None  # wait (bounded) until the read model applied it


class ListOrders(OrderQuery, kw_only=True, frozen=True):
    status: Annotated[list[OrderStatus], Meta(max_length=7)] = []
    client: Annotated[str, Meta(max_length=200)] | None = None
    placed_from: datetime | None = None
    placed_to: datetime | None = None
    limit: Annotated[int, Meta(ge=1, le=500)] = 50


class GetOrder(OrderQuery, kw_only=True, frozen=True):
    order_id: UUID


class GetDocumentUrl(OrderQuery, kw_only=True, frozen=True):
    order_id: UUID
    sha256: Sha256


class DocumentUrl(msgspec.Struct, kw_only=True):
    url: str
    expires_in_seconds: int
