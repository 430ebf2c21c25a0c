"""Run the messaging API in a process: its own NATS connection, the gateway's services, and the
push of order events to their organisations' subjects."""

from __future__ import annotations

import asyncio
import contextlib

from gateway.app import authenticator
from gateway.messaging.audit import sweep_exports
from gateway.messaging.endpoints import endpoints
from gateway.messaging.push import OrderPush
from gateway.messaging.service import MessagingApi
from gateway.services import Services
from infra.housekeeping import repeat
from infra.logging import get_logger
from infra.nats import NatsConnector

log = get_logger(__name__)


SWEEP_SECONDS = 3600.0


async def sweep_uploads_forever(services: Services, every: float = SWEEP_SECONDS) -> None:
    """Delete staged uploads past their orphan age and audit exports past their URL's, hourly
    (deleting twice is harmless, so every messaging process may sweep)."""
    documents, clock = services.ports.documents, services.ports.clock

    async def sweep() -> None:
        swept = await documents.sweep_uploads(clock.now())
        if swept:
            log.info("documents.uploads_swept", count=swept)
        exports = await sweep_exports(services, clock.now())
        if exports:
            log.info("audit.exports_swept", count=exports)

    await repeat(sweep, every, name="sweep_uploads")


async def serve_messaging(services: Services, nats: NatsConnector) -> None:
    """Answer `<prefix>.api.v1.>` until cancelled (several processes share the queue group)."""
    auth = authenticator(services)
    await auth.revocations.load()  # before the first request: no ended sign-in gets in
    await auth.api_keys.load()  # nor a revoked key
    follow = asyncio.create_task(auth.revocations.follow(), name="messaging-revocations")
    follow_keys = asyncio.create_task(auth.api_keys.follow(), name="messaging-api-keys")
    sweep = asyncio.create_task(sweep_uploads_forever(services), name="messaging-sweep")
    nc = await nats.connect("coursewright-api")
    api = MessagingApi(services, endpoints(), auth.caller_of_token)
    push = asyncio.create_task(OrderPush(nc, services.settings, services.store).run(), name="messaging-push")
    try:
        await api.start(nc)
        log.info("messaging.serving", endpoints=len(api.endpoints), prefix=api.prefix)
        await asyncio.Event().wait()
    finally:
        with contextlib.suppress(Exception):
            await api.stop()
        for task in (follow, follow_keys, sweep, push):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):
            await nc.drain()
