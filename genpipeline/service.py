"""The `pipeline` component: the generation pipeline's two durable subscriptions on one process.

`pipeline_orders` follows the order events (an accepted or retried order is generated) with
`CW_PIPELINE_CONCURRENCY` orders at once; `pipeline_rejections` follows the courses' rejections
(lessons asked for again). Both ack each event once handled; an event whose handling keeps
failing is parked on the dead-letter subject after `CW_PIPELINE_ATTEMPTS` deliveries.

Every pipeline process also listens (plain NATS, no consumer: each process hears every one) for
orders leaving generation, so a cancelled order's running job stops at once, whichever process
runs it; and answers the gateway's readiness probe with how its vector store and its LLM answer
(`<prefix>.pipeline.ready`; any member may answer).
"""

from __future__ import annotations

import asyncio
import contextlib

import msgspec
from nats.aio.msg import Msg

from genpipeline.worker import STOPS, GenerationPipeline
from infra.eventlog.consumer import decode_message
from infra.eventlog.subscriber import EventSubscriber, Handler
from infra.logging import get_logger
from infra.nats import NatsConnector, close_quietly
from infra.settings import Settings

log = get_logger(__name__)

READY_SECONDS = 0.5  # each dependency's check, when the gateway asks (its probe waits 0.8 s)


async def run_pipeline(settings: Settings, nats: NatsConnector, pipeline: GenerationPipeline) -> None:
    """Until cancelled (the supervisor restarts it when it fails, e.g. NATS away at start)."""
    nc = await nats.connect("pipeline")
    try:

        def subscriber(name: str, handle: Handler, subjects: str, concurrency: int = 1) -> EventSubscriber:
            return EventSubscriber(
                nc,
                settings,
                name,
                handle,
                subjects=subjects,
                concurrency=concurrency,
                max_deliver=settings.pipeline_attempts,
                ack_wait=settings.pipeline_ack_seconds,
            )

        orders = subscriber("pipeline_orders", pipeline.on_order_event, "order.>", settings.pipeline_concurrency)
        rejections = subscriber("pipeline_rejections", pipeline.on_course_event, "course.CourseRejected")

        async def stopped(msg: Msg) -> None:
            try:
                pipeline.on_order_stopped(decode_message(msg.data))
            except Exception:  # not an envelope: the job stops at its next order command anyway
                log.warning("pipeline.undecodable_stop", subject=msg.subject)

        for event_type in sorted(STOPS):
            await nc.subscribe(settings.event_subject("order", event_type), cb=stopped)

        async def ready(msg: Msg) -> None:
            report = await pipeline.readiness(bool(settings.llm_model), READY_SECONDS)
            with contextlib.suppress(Exception):  # the asker gave up: it says we did not answer
                await msg.respond(msgspec.json.encode(report))

        await nc.subscribe(settings.pipeline_ready_subject(), cb=ready)
        log.info("pipeline.started", concurrency=settings.pipeline_concurrency)
        async with asyncio.TaskGroup() as group:
            group.create_task(orders.run(), name="pipeline:orders")
            group.create_task(rejections.run(), name="pipeline:rejections")
    finally:
        await close_quietly(nc)
