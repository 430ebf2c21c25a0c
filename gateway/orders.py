"""What both edges (HTTP and NATS) answer about an order's documents beyond the read model."""

from __future__ import annotations

from uuid import UUID

from domain.order import DocumentNotFound
from gateway.auth import Caller
from gateway.services import Services
from projections.queries import orders as oq
from schemas.orders import DocumentUrl


async def document_url(
    services: Services, caller: Caller, order_id: UUID, sha256: str, *, position: int | None = None
) -> DocumentUrl:
    """A presigned download URL of one of the order's documents, for whoever may read the order."""
    order = await oq.order_detail(services.reader, caller, order_id, position=position)
    if not any(d.sha256 == sha256 for d in order.documents):
        raise DocumentNotFound(f"order {order_id} has no document {sha256}")
    documents = services.ports.documents
    url = await documents.download_url(UUID(order.org_id), sha256)
    return DocumentUrl(url=url, expires_in_seconds=int(documents.url_expiry.total_seconds()))
