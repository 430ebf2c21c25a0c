"""The `orders` read model: one row per order with its documents, progress and timeline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.order import Order
from infra.eventlog import EventEnvelope
from projections.model import Projection, Row, Table, on, plain

ORDERS = Table(
    "orders",
    columns=(
        ("order_id", "uuid NOT NULL"),
        ("org_id", "uuid NOT NULL"),
        ("client", "text NOT NULL"),
        ("title", "text NOT NULL"),
        ("cefr_level", "text NOT NULL"),
        ("job_role", "text NOT NULL"),
        ("industry", "text NOT NULL"),
        ("language", "text NOT NULL"),
        ("learners", "integer NOT NULL"),
        ("wanted_by", "date NOT NULL"),
        ("notes", "text NOT NULL"),
        ("status", "text NOT NULL"),
        ("placed_by", "uuid NOT NULL"),
        ("placed_at", "timestamptz NOT NULL"),
        ("updated_at", "timestamptz NOT NULL"),
        ("attempt", "integer NOT NULL"),
        ("stages", "jsonb NOT NULL"),
        ("stage", "integer NOT NULL"),
        ("course_id", "uuid"),
        ("failure", "jsonb"),
        ("cancel_reason", "text NOT NULL"),
        ("documents", "jsonb NOT NULL"),
        ("timeline", "jsonb NOT NULL"),
    ),
    key=("order_id",),
    indexes=("(org_id, placed_at DESC, order_id)", "(org_id, status, placed_at DESC)", "(org_id, lower(client))"),
)


def _sha(sha256: str) -> str:
    return sha256[:12]


# What the timeline says of each event, in words a sales person reads.
SUMMARIES: dict[type[Any], Callable[[Any], str]] = {
    Order.Placed: lambda e: f"placed for {e.brief.client}: {e.brief.title}",
    Order.DocumentAdded: lambda e: f"document {e.document.name} added ({e.document.size} bytes)",
    Order.DocumentRemoved: lambda e: f"document {_sha(e.sha256)} removed",
    Order.DocumentsAccepted: lambda e: f"{len(e.documents)} document(s) accepted",
    Order.GenerationStarted: lambda e: f"generation attempt {e.attempt} started ({len(e.stages)} stages)",
    Order.StageStarted: lambda e: f"stage {e.stage}: {e.name}",
    Order.DraftReady: lambda e: f"draft ready: course {e.course_id}",
    Order.Delivered: lambda e: f"delivered: course {e.course_id} published",
    Order.Cancelled: lambda e: "cancelled" + (f": {e.reason}" if e.reason else ""),
    Order.Failed: lambda e: (
        f"failed at stage {e.stage} ({e.stage_name}): {e.reason}"
        if e.stage
        else f"failed before generating: {e.reason}"
    ),
    Order.Retried: lambda e: "retried",
}


class OrdersProjection(Projection):
    name = "orders"
    version = 1
    tables = (ORDERS,)

    async def _order(self, event: Any, env: EventEnvelope, status: str | None = None) -> Row:
        """The order's row, with the event on its timeline (and its new status)."""
        row = await self.require("orders", env.stream_id, "order {key} was never placed")
        row["timeline"].append(
            {
                "position": env.position,
                "at": env.occurred_at,
                "event": env.event_type,
                "actor_id": env.actor_id,
                "summary": SUMMARIES[type(event)](event),
            }
        )
        row["updated_at"] = env.occurred_at
        if status is not None:
            row["status"] = status
        self.put("orders", row)
        return row

    @on(Order.Placed)
    async def placed(self, e: Order.Placed, env: EventEnvelope) -> None:
        b = e.brief
        self.put(
            "orders",
            {
                "order_id": env.stream_id,
                "org_id": e.org_id,
                "client": b.client,
                "title": b.title,
                "cefr_level": b.cefr_level,
                "job_role": b.learners.job_role,
                "industry": b.learners.industry,
                "language": b.learners.language,
                "learners": b.learners.count,
                "wanted_by": b.wanted_by,
                "notes": b.notes,
                "status": "placed",
                "placed_by": e.placed_by,
                "placed_at": env.occurred_at,
                "updated_at": env.occurred_at,
                "attempt": 0,
                "stages": [],
                "stage": 0,
                "course_id": None,
                "failure": None,
                "cancel_reason": "",
                "documents": [],
                "timeline": [],
            },
        )
        await self._order(e, env)

    @on(Order.DocumentAdded)
    async def document_added(self, e: Order.DocumentAdded, env: EventEnvelope) -> None:
        row = await self._order(e, env)
        row["documents"].append({**plain(e.document), "added_at": env.occurred_at})

    @on(Order.DocumentRemoved)
    async def document_removed(self, e: Order.DocumentRemoved, env: EventEnvelope) -> None:
        row = await self._order(e, env)
        row["documents"] = [d for d in row["documents"] if d["sha256"] != e.sha256]

    @on(Order.DocumentsAccepted)
    async def accepted(self, e: Order.DocumentsAccepted, env: EventEnvelope) -> None:
        await self._order(e, env, "documents_accepted")

    @on(Order.GenerationStarted)
    async def generation_started(self, e: Order.GenerationStarted, env: EventEnvelope) -> None:
        row = await self._order(e, env, "generating")
        row.update(attempt=e.attempt, stages=list(e.stages), stage=0, failure=None)

    @on(Order.StageStarted)
    async def stage_started(self, e: Order.StageStarted, env: EventEnvelope) -> None:
        row = await self._order(e, env)
        row["stage"] = e.stage

    @on(Order.DraftReady)
    async def draft_ready(self, e: Order.DraftReady, env: EventEnvelope) -> None:
        row = await self._order(e, env, "draft_ready")
        row["course_id"] = e.course_id

    @on(Order.Delivered)
    async def delivered(self, e: Order.Delivered, env: EventEnvelope) -> None:
        await self._order(e, env, "delivered")

    @on(Order.Cancelled)
    async def cancelled(self, e: Order.Cancelled, env: EventEnvelope) -> None:
        row = await self._order(e, env, "cancelled")
        row["cancel_reason"] = e.reason

    @on(Order.Failed)
    async def failed(self, e: Order.Failed, env: EventEnvelope) -> None:
        row = await self._order(e, env, "failed")
        row["failure"] = {"stage": e.stage, "stage_name": e.stage_name, "reason": e.reason}

    @on(Order.Retried)
    async def retried(self, e: Order.Retried, env: EventEnvelope) -> None:
        row = await self._order(e, env, "documents_accepted")
        row["failure"] = None
