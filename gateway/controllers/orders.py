"""Orders over HTTP: place, documents (multipart or presigned upload), the lifecycle, queries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException, ValidationException
from litestar.handlers import BaseRouteHandler
from litestar.params import Body, FromPath, FromQuery, JSONBody, QueryParameter

from gateway.dispatch import CallerDep, ServicesDep, body, command_of, dispatch, route
from gateway.idempotency import BodyTooLarge
from gateway.orders import document_url
from gateway.problems import UPLOAD_PROBLEMS
from gateway.queries import Position
from projections.queries import orders as oq
from schemas import orders as o
from schemas.results import CommandResult

PlaceOrderBody = body(o.PlaceOrder)
CompleteUploadBody = body(o.CompleteDocumentUpload, "order_id", "upload_id")
CancelOrderBody = body(o.CancelOrder, "order_id")
StartGenerationBody = body(o.StartGeneration, "order_id")
AdvanceGenerationBody = body(o.AdvanceGeneration, "order_id")
RecordDraftBody = body(o.RecordDraft, "order_id")
FailGenerationBody = body(o.FailGeneration, "order_id")

Answer = Response[CommandResult]
Req = Request[Any, Any, Any]
DOCUMENT_LIMIT = "document_max_bytes"  # app state: the largest document the documents port takes
MULTIPART_OVERHEAD = 64 * 1024  # a form's boundaries, part headers and file name around the document


def within_document_limit(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Refuse a document upload larger than a document may be before its body is read, and
    before authentication: the route is exempt from the commands' body limit (documents are
    larger), so without this any client could make the gateway spool a body of any size."""
    limit = int(connection.app.state[DOCUMENT_LIMIT]) + MULTIPART_OVERHEAD
    length = connection.headers.get("content-length")
    if length is None or not length.isdigit():
        raise HTTPException(status_code=411, detail="send the document with a Content-Length header")
    if int(length) > limit:
        raise BodyTooLarge(f"the request has {length} bytes; a document upload may have at most {limit}")


def _order(r: CommandResult) -> str:
    return f"/orders/{r.id}"


class OrderController(Controller):
    path = "/orders"
    tags = ["orders"]

    @route(post, "/", summary="Place an order for a course (sales)", status=201)
    async def place(
        self, request: Req, services: ServicesDep, caller: CallerDep, data: JSONBody[PlaceOrderBody]
    ) -> Answer:
        cmd = command_of(o.PlaceOrder, data)
        return await dispatch(services, request, caller, cmd, status=201, location=_order)

    @route(
        post,
        "/{order_id:uuid}/documents",
        summary="Attach an SOP document (multipart/form-data, field `file`)",
        status=201,
        request_max_body_size=None,  # the documents port's limit instead, checked by the guard
        guards=[within_document_limit],
        problems=UPLOAD_PROBLEMS,
    )
    async def add_document(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        order_id: FromPath[UUID],
        data: Annotated[dict[str, UploadFile], Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> Answer:
        upload = data.get("file")
        if upload is None:
            raise ValidationException("send the document in a multipart field named `file`")
        content = await upload.read()
        # Built, not decoded: the inline limit is NATS's; the documents port checks its own.
        cmd = o.AddDocument(order_id=order_id, name=upload.filename or "document", content=content)
        return await dispatch(services, request, caller, cmd, status=201, location=_order)

    @route(post, "/{order_id:uuid}/uploads", summary="Begin a presigned upload of a large document", status=201)
    async def begin_upload(
        self, request: Req, services: ServicesDep, caller: CallerDep, order_id: FromPath[UUID]
    ) -> Answer:
        cmd = o.BeginDocumentUpload(order_id=order_id)
        return await dispatch(services, request, caller, cmd, status=201, location=_order)

    @route(post, "/{order_id:uuid}/uploads/{upload_id:uuid}", summary="Complete a presigned upload", status=201)
    async def complete_upload(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        order_id: FromPath[UUID],
        upload_id: FromPath[UUID],
        data: JSONBody[CompleteUploadBody],
    ) -> Answer:
        cmd = command_of(o.CompleteDocumentUpload, data, order_id=order_id, upload_id=upload_id)
        return await dispatch(services, request, caller, cmd, status=201, location=_order)

    @route(delete, "/{order_id:uuid}/documents/{sha256:str}", summary="Remove a document before generation")
    async def remove_document(
        self, request: Req, services: ServicesDep, caller: CallerDep, order_id: FromPath[UUID], sha256: FromPath[str]
    ) -> Answer:
        cmd = o.RemoveDocument(order_id=order_id, sha256=sha256)
        return await dispatch(services, request, caller, cmd, location=_order)

    @route(post, "/{order_id:uuid}/accept", summary="Declare the documents complete: ready for generation")
    async def accept(self, request: Req, services: ServicesDep, caller: CallerDep, order_id: FromPath[UUID]) -> Answer:
        return await dispatch(services, request, caller, o.AcceptDocuments(order_id=order_id), location=_order)

    @route(post, "/{order_id:uuid}/cancel", summary="Cancel an order before its generation finishes")
    async def cancel(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        order_id: FromPath[UUID],
        data: JSONBody[CancelOrderBody],
    ) -> Answer:
        cmd = command_of(o.CancelOrder, data, order_id=order_id)
        return await dispatch(services, request, caller, cmd, location=_order)

    @route(post, "/{order_id:uuid}/retry", summary="Retry a failed generation")
    async def retry(self, request: Req, services: ServicesDep, caller: CallerDep, order_id: FromPath[UUID]) -> Answer:
        return await dispatch(services, request, caller, o.RetryOrder(order_id=order_id), location=_order)

    @route(post, "/{order_id:uuid}/deliver", summary="Deliver the order once its course is published")
    async def deliver(self, request: Req, services: ServicesDep, caller: CallerDep, order_id: FromPath[UUID]) -> Answer:
        return await dispatch(services, request, caller, o.DeliverOrder(order_id=order_id), location=_order)

    @route(post, "/{order_id:uuid}/generation", summary="Start a generation attempt (the pipeline)")
    async def start_generation(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        order_id: FromPath[UUID],
        data: JSONBody[StartGenerationBody],
    ) -> Answer:
        cmd = command_of(o.StartGeneration, data, order_id=order_id)
        return await dispatch(services, request, caller, cmd, location=_order)

    @route(post, "/{order_id:uuid}/generation/stage", summary="Report the stage generation reached (the pipeline)")
    async def advance_generation(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        order_id: FromPath[UUID],
        data: JSONBody[AdvanceGenerationBody],
    ) -> Answer:
        cmd = command_of(o.AdvanceGeneration, data, order_id=order_id)
        return await dispatch(services, request, caller, cmd, location=_order)

    @route(post, "/{order_id:uuid}/generation/draft", summary="Record the course drafted (the pipeline)")
    async def record_draft(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        order_id: FromPath[UUID],
        data: JSONBody[RecordDraftBody],
    ) -> Answer:
        cmd = command_of(o.RecordDraft, data, order_id=order_id)
        return await dispatch(services, request, caller, cmd, location=_order)

    @route(post, "/{order_id:uuid}/generation/failure", summary="Record a failed generation (the pipeline)")
    async def fail_generation(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        order_id: FromPath[UUID],
        data: JSONBody[FailGenerationBody],
    ) -> Answer:
        cmd = command_of(o.FailGeneration, data, order_id=order_id)
        return await dispatch(services, request, caller, cmd, location=_order)

    # -- queries -----------------------------------------------------------------------------

    @get("/", summary="Orders of the caller's organisation, newest first")
    async def list_orders(
        self,
        services: ServicesDep,
        caller: CallerDep,
        status: Annotated[list[o.OrderStatus] | None, QueryParameter(description="any of")] = None,
        client: Annotated[str | None, QueryParameter(max_length=200)] = None,
        placed_from: FromQuery[datetime | None] = None,
        placed_to: FromQuery[datetime | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
        position: Position = None,
    ) -> o.OrderList:
        query = oq.OrderFilter(tuple(status or ()), client, placed_from, placed_to, limit)
        return await oq.list_orders(services.reader, caller, query, position=position)

    @get(
        "/{order_id:uuid}/documents/{sha256:str}",
        summary="A presigned download URL of one of the order's documents",
    )
    async def document(
        self,
        services: ServicesDep,
        caller: CallerDep,
        order_id: FromPath[UUID],
        sha256: FromPath[str],
        position: Position = None,
    ) -> o.DocumentUrl:
        return await document_url(services, caller, order_id, sha256, position=position)

    @get("/{order_id:uuid}", summary="One order with its documents and timeline")
    async def detail(
        self, services: ServicesDep, caller: CallerDep, order_id: FromPath[UUID], position: Position = None
    ) -> o.OrderDetail:
        return await oq.order_detail(services.reader, caller, order_id, position=position)
