"""Run the messaging API in a process: its own NATS connection, the gateway's services."""

from __future__ import annotations

import asyncio
import contextlib

from gateway.app import authenticator
from gateway.messaging.endpoints import endpoints
from gateway.messaging.service import MessagingApi
from gateway.services import Services
from infra.logging import get_logger
from infra.nats import connect

log = get_logger(__name__)


async def serve_messaging(services: Services) -> None:
    """Answer `<prefix>.api.v1.>` until cancelled (several processes share the queue group)."""
    auth = authenticator(services)
    await auth.revocations.load()  # before the first request: no ended sign-in gets in
    follow = asyncio.create_task(auth.revocations.follow(), name="messaging-revocations")
    nc = await connect(services.settings, name="coursewright-api")
    api = MessagingApi(services, endpoints(), auth.caller_of_token)
    try:
        await api.start(nc)
        log.info("messaging.serving", endpoints=len(api.endpoints), prefix=api.prefix)
        await asyncio.Event().wait()
    finally:
        with contextlib.suppress(Exception):
            await api.stop()
        follow.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follow
        with contextlib.suppress(Exception):
            await nc.drain()
