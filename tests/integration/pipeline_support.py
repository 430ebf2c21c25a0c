"""A world for the generation pipeline's tests: a fresh log on the real PostgreSQL, the run's S3,
the relay to a private JetStream stream, a sales person and a course manager of one organisation."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import msgspec

from commands import codec
from commands.bus import CommandBus
from commands.context import Context
from commands.documents import SopDocuments
from commands.routes import ROUTES
from domain.course import Course
from domain.order import Order
from genpipeline.service import run_pipeline
from genpipeline.worker import GenerationPipeline
from infra.blobs.s3 import S3BlobStore
from infra.eventlog.postgres import PostgresEventStore
from infra.nats import NatsConnector
from infra.relay import Relay
from infra.settings import Settings
from schemas import orders as o
from schemas.envelope import EventEnvelope
from schemas.roles import Role
from tests.conftest import delete_event_streams
from tests.ports import make_ports

ORDER: dict[str, Any] = {
    "client": "Acme Logistics",
    "title": "Working safely",
    "cefr_level": "B1",
    "job_role": "warehouse operator",
    "industry": "logistics",
    "language": "en",
    "learners": 12,
    "wanted_by": str(date.today() + timedelta(days=30)),
}


@dataclass
class World:
    settings: Settings
    store: PostgresEventStore
    blobs: S3BlobStore
    documents: SopDocuments
    bus: CommandBus
    org: uuid.UUID

    def ctx(self, *roles: Role) -> Context:
        return Context(uuid.uuid4(), self.org, frozenset(roles))

    async def place(self, files: list[tuple[str, bytes]], **brief: object) -> uuid.UUID:
        """An order with these documents, accepted for generation."""
        sales = self.ctx("sales")
        placed = await self.bus.handle(msgspec.convert(ORDER | brief, o.PlaceOrder), sales)
        order_id = uuid.UUID(placed.id)
        for name, content in files:
            await self.bus.handle(o.AddDocument(order_id=order_id, name=name, content=content), sales)
        await self.bus.handle(o.AcceptDocuments(order_id=order_id), sales)
        return order_id

    async def events(self, stream_id: uuid.UUID) -> list[EventEnvelope]:
        return await self.store.read_stream(stream_id)

    async def order(self, order_id: uuid.UUID) -> Order:
        stored = await self.events(order_id)
        return Order.replay(order_id, [codec.decode(e.event_type, e.payload) for e in stored])

    async def course(self, course_id: uuid.UUID) -> Course:
        stored = await self.events(course_id)
        return Course.replay(course_id, [codec.decode(e.event_type, e.payload) for e in stored])

    async def event_types(self, stream_id: uuid.UUID) -> list[str]:
        return [e.event_type for e in await self.events(stream_id)]

    async def all_of(self, event_type: str) -> list[EventEnvelope]:
        """Every event of that type in the whole log."""
        out, after = [], 0
        while batch := await self.store.read_log(after, 1000):
            out += [e for e in batch if e.event_type == event_type]
            after = batch[-1].position
        return out

    async def until(self, what: Callable[[], Any], seconds: float = 300.0) -> Any:
        """Poll `what` (async) until it returns something true; a guard against a hang, not a timing."""
        deadline = asyncio.get_running_loop().time() + seconds
        while not (found := await what()):
            assert asyncio.get_running_loop().time() < deadline, "timed out waiting"
            await asyncio.sleep(0.1)
        return found

    async def until_order(self, order_id: uuid.UUID, *statuses: str) -> Order:
        async def done() -> Order | None:
            order = await self.order(order_id)
            return order if order.status in statuses else None

        found: Order = await self.until(done)
        return found

    def relaying(self) -> contextlib.AbstractAsyncContextManager[None]:
        """The relay publishing the log to the world's private stream."""
        return in_background(Relay(self.settings, NatsConnector(self.settings)).run())

    @contextlib.asynccontextmanager
    async def running(self, pipeline: GenerationPipeline) -> AsyncIterator[None]:
        """The relay and the pipeline's subscriptions, as `coursewright run pipeline` runs them."""
        async with self.relaying(), in_background(run_pipeline(self.settings, NatsConnector(self.settings), pipeline)):
            yield


@contextlib.asynccontextmanager
async def open_world(settings: Settings) -> AsyncIterator[World]:
    """A world on these settings' database, S3 bucket and private stream (deleted at the end)."""
    store = PostgresEventStore(settings.pg_dsn)
    await store.start()
    blobs = S3BlobStore(
        settings.s3_url, settings.s3_access_key, settings.s3_secret_key.get_secret_value(), settings.s3_bucket
    )
    await blobs.start()
    documents = SopDocuments(blobs, max_bytes=settings.document_max_bytes, order_max_bytes=settings.order_max_bytes)
    bus = CommandBus(store, ROUTES, make_ports(documents=documents))
    try:
        yield World(settings, store, blobs, documents, bus, uuid.uuid4())
    finally:
        await blobs.close()
        await store.close()
        await delete_event_streams(settings)


@contextlib.asynccontextmanager
async def in_background(work: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    """`work` as a task for the block's span, cancelled and awaited at its end."""
    task = asyncio.create_task(work)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
