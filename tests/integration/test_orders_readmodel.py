"""The `orders` read model after each step of an order, with the relay and its projector running:
the list and its filters, the detail with documents, progress and timeline, and tenancy."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from commands.bus import CommandBus
from commands.routes import ROUTES
from domain.errors import Forbidden
from domain.order import OrderNotFound
from gateway.bootstrap import Root
from infra.eventlog.postgres import PostgresEventStore
from infra.settings import Settings
from projections.queries import orders as oq
from projections.queries.reader import Reader
from schemas import orders as o
from tests.integration.projections_support import projectors, relay
from tests.integration.test_orders import MD, PDF, STAGES, Sales
from tests.ports import make_ports


@dataclass(frozen=True)
class Viewer:
    user_id: uuid.UUID
    org_id: uuid.UUID
    roles: frozenset[str]


def viewer(world: Sales, *roles: str) -> Viewer:
    return Viewer(uuid.uuid4(), world.org, frozenset(roles or ("sales",)))


@pytest.fixture
async def reader(settings: Settings, store: PostgresEventStore, nats_cleanup: Settings) -> AsyncIterator[Reader]:
    async with Root(settings, make_ports()) as root, relay(settings), projectors(settings, "orders", cache=root.cache):
        yield Reader(store.pool, root.cache, wait_seconds=30.0)


async def test_an_order_as_sales_follow_it(reader: Reader, store: PostgresEventStore) -> None:
    world = Sales(CommandBus(store, ROUTES, make_ports()))
    order = await world.place(notes="Polish subtitles")
    seen = await oq.order_detail(reader, viewer(world), order, position=(await store.read_stream(order))[-1].position)
    assert (seen.status, seen.client, seen.learners, seen.notes, seen.progress) == (
        "placed",
        "Acme Logistics",
        12,
        "Polish subtitles",
        None,
    )
    await world.add(order, MD, "forklift.md")
    await world.add(order, PDF, "scan.pdf")
    await world.bus.handle(o.AcceptDocuments(order_id=order), world.sales)
    await world.bus.handle(o.StartGeneration(order_id=order, stages=STAGES), world.pipeline)
    r = await world.bus.handle(o.AdvanceGeneration(order_id=order, stage=2), world.pipeline)
    seen = await oq.order_detail(reader, viewer(world), order, position=r.position)
    assert seen.status == "generating"
    assert seen.progress == o.OrderProgress(attempt=1, stage=2, of=3, stage_name="extract")
    assert [(d.name, d.media_type, d.size) for d in seen.documents] == [
        ("forklift.md", "text/markdown", len(MD)),
        ("scan.pdf", "application/pdf", len(PDF)),
    ]
    assert seen.document_count == 2
    assert [t.event for t in seen.timeline] == [
        "OrderPlaced",
        "OrderDocumentAdded",
        "OrderDocumentAdded",
        "OrderDocumentsAccepted",
        "OrderGenerationStarted",
        "OrderStageStarted",
    ]
    assert seen.timeline[-1].summary == "stage 2: extract"
    r = await world.bus.handle(o.FailGeneration(order_id=order, reason="the PDF is encrypted"), world.pipeline)
    seen = await oq.order_detail(reader, viewer(world), order, position=r.position)
    assert seen.status == "failed"
    assert seen.failure == o.OrderFailure(stage=2, stage_name="extract", reason="the PDF is encrypted")
    r = await world.bus.handle(o.RetryOrder(order_id=order), world.sales)
    seen = await oq.order_detail(reader, viewer(world), order, position=r.position)
    assert (seen.status, seen.failure) == ("documents_accepted", None)


async def test_the_list_filters_by_status_client_and_time_and_keeps_to_the_organisation(
    reader: Reader, store: PostgresEventStore
) -> None:
    world = Sales(CommandBus(store, ROUTES, make_ports()))
    other = Sales(world.bus)
    before = datetime.now(UTC) - timedelta(seconds=5)
    acme = await world.place()
    globex = await world.place(client="Globex", title="Crane signals")
    await world.bus.handle(o.CancelOrder(order_id=globex, reason="no budget"), world.sales)
    foreign = await other.place(client="Acme Logistics")
    r = await world.add(acme)
    await reader.reach("orders", (await store.read_stream(foreign))[-1].position)
    mine = viewer(world)
    everything = await oq.list_orders(reader, mine, oq.OrderFilter(), position=r.position)
    assert [i.order_id for i in everything.items] == [str(globex), str(acme)]  # newest first, this org only
    assert everything.items[1].document_count == 1
    cancelled = await oq.list_orders(reader, mine, oq.OrderFilter(status=("cancelled",)))
    assert [i.order_id for i in cancelled.items] == [str(globex)]
    by_client = await oq.list_orders(reader, mine, oq.OrderFilter(client="acme LOGISTICS"))
    assert [i.order_id for i in by_client.items] == [str(acme)]
    later = await oq.list_orders(reader, mine, oq.OrderFilter(placed_from=datetime.now(UTC) + timedelta(minutes=1)))
    assert later.items == []
    window = await oq.list_orders(reader, mine, oq.OrderFilter(placed_from=before, placed_to=datetime.now(UTC)))
    assert len(window.items) == 2
    with pytest.raises(OrderNotFound):
        await oq.order_detail(reader, viewer(other), acme)
    with pytest.raises(OrderNotFound):
        await oq.order_detail(reader, viewer(world, "student"), acme)
    with pytest.raises(Forbidden):
        await oq.list_orders(reader, viewer(world, "instructor"), oq.OrderFilter())
    admin = await oq.order_detail(reader, viewer(other, "platform_admin"), acme)
    assert admin.order_id == str(acme)
