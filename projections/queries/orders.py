"""Orders for their organisation's sales people: a filtered list, and one order in full."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from domain.errors import Forbidden
from domain.order import OrderNotFound
from projections.queries.reader import Reader, Viewer, reach
from schemas.access import Query, Reach
from schemas.orders import (
    OrderDetail,
    OrderDocument,
    OrderFailure,
    OrderList,
    OrderProgress,
    OrderStatus,
    OrderSummary,
    TimelineEntry,
)

_SUMMARY = (
    "order_id, client, title, cefr_level, learners, wanted_by, status, placed_by, placed_at, updated_at,"
    " attempt, stages, stage, course_id, jsonb_array_length(documents)"
)
_DETAIL = _SUMMARY + ", org_id, job_role, industry, language, notes, failure, cancel_reason, documents, timeline"


@dataclass(frozen=True)
class OrderFilter:
    status: tuple[OrderStatus, ...] = ()  # any of
    client: str | None = None  # case-insensitive, exact
    placed_from: datetime | None = None  # inclusive
    placed_to: datetime | None = None  # exclusive
    limit: int = 50


def _summary(r: tuple[Any, ...]) -> dict[str, Any]:
    attempt, stages, stage = r[10], r[11], r[12]
    progress = (
        OrderProgress(attempt=attempt, stage=stage, of=len(stages), stage_name=stages[stage - 1] if stage else "")
        if attempt
        else None
    )
    return {
        "order_id": str(r[0]),
        "client": r[1],
        "title": r[2],
        "cefr_level": r[3],
        "learners": r[4],
        "wanted_by": r[5],
        "status": r[6],
        "placed_by": str(r[7]),
        "placed_at": r[8],
        "updated_at": r[9],
        "progress": progress,
        "course_id": str(r[13]) if r[13] else None,
        "document_count": r[14],
    }


async def list_orders(reader: Reader, viewer: Viewer, query: OrderFilter, *, position: int | None = None) -> OrderList:
    """The orders of the viewer's organisation, newest first, filtered."""
    if reach(viewer, Query.ORDERS, viewer.org_id) is Reach.NONE:
        raise Forbidden("orders are for sales and organisation admins")
    await reader.reach("orders", position)
    stmt = f"SELECT {_SUMMARY} FROM rm_orders.orders WHERE org_id = %s"
    params: list[Any] = [viewer.org_id]
    if query.status:
        stmt += " AND status = ANY(%s)"
        params.append(list(query.status))
    if query.client:
        stmt += " AND lower(client) = lower(%s)"
        params.append(query.client.strip())
    if query.placed_from:
        stmt += " AND placed_at >= %s"
        params.append(query.placed_from)
    if query.placed_to:
        stmt += " AND placed_at < %s"
        params.append(query.placed_to)
    stmt += " ORDER BY placed_at DESC, order_id LIMIT %s"
    params.append(max(1, min(query.limit, 500)))
    async with reader.connection() as conn:
        at = await reader.checkpoint(conn, "orders")
        rows = await (await conn.execute(stmt, params)).fetchall()
    return OrderList(items=[OrderSummary(**_summary(r)) for r in rows], position=at)


async def order_detail(reader: Reader, viewer: Viewer, order_id: UUID, *, position: int | None = None) -> OrderDetail:
    """One order with its documents and timeline; another organisation's reads as missing."""
    await reader.reach("orders", position)
    async with reader.connection() as conn:
        cur = await conn.execute(f"SELECT {_DETAIL} FROM rm_orders.orders WHERE order_id = %s", [order_id])
        r = await cur.fetchone()
    if r is None or reach(viewer, Query.ORDERS, r[15]) is Reach.NONE:
        raise OrderNotFound(f"order {order_id} not found")
    failure, documents, timeline = r[20], r[22], r[23]
    return OrderDetail(
        **_summary(r),
        org_id=str(r[15]),
        job_role=r[16],
        industry=r[17],
        language=r[18],
        notes=r[19],
        failure=msgspec.convert(failure, OrderFailure) if failure else None,
        cancel_reason=r[21],
        documents=msgspec.convert(documents, list[OrderDocument]),
        timeline=msgspec.convert(timeline, list[TimelineEntry]),
    )
