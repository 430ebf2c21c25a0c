"""Order events pushed to their organisation: `<prefix>.push.v1.orgs.<org id>.orders.<EventType>`.

A sales system follows its orders by subscribing to its organisation's subject (a wildcard,
`<prefix>.push.v1.orgs.<org id>.orders.>`), and never sees another organisation's: the org id is
in the subject, so the NATS server's permissions give each machine client exactly its own
organisation's subjects (docs/deploy.md, "Tenancy on NATS"). The body is the event's envelope,
as on JetStream; headers carry the event id (`Nats-Msg-Id`), the order id and the log position.

The `messaging` processes forward the log's order events there through one durable JetStream
consumer they share (`order-push`), in log order, each event acked once published: at least
once, so a client drops an event id it has seen and reads the order (`orders.get`, its timeline)
after a reconnect to catch up. The organisation is the order's, read from its stream (the event's
own `org_id` is that of whoever sent the command, e.g. the generation pipeline).

The consumer starts at the events published after it was first created (`DeliverPolicy.NEW`):
pushes are news, so a new deployment does not push the stream's whole history. It is durable:
after a restart (of every messaging process) it resumes from its ack floor, so the events
published while it was down are pushed then, and none is pushed twice for the restart.
"""

from __future__ import annotations

import asyncio
from uuid import UUID

import msgspec
from nats.aio.client import Client
from nats.js.api import DeliverPolicy

from commands.identity import read
from domain.order import Order
from infra.errors import Unavailable
from infra.eventlog import EventStore
from infra.eventlog.subscriber import EventSubscriber
from infra.logging import get_logger
from infra.lru import Lru
from infra.settings import Settings
from schemas.envelope import EventEnvelope

log = get_logger(__name__)

CONSUMER = "order-push"
PUSH_VERSION = "v1"
_encode = msgspec.json.Encoder().encode


def push_subject(prefix: str, org_id: UUID | str, event_type: str) -> str:
    return f"{prefix}.push.{PUSH_VERSION}.orgs.{org_id}.orders.{event_type}"


class OrderPush:
    """Forwards every order event to its organisation's push subject."""

    def __init__(self, nc: Client, settings: Settings, store: EventStore) -> None:
        self.nc = nc
        self.settings = settings
        self.store = store
        self._orgs: Lru[UUID, UUID] = Lru(10_000)  # an order's organisation never changes

    async def org_of(self, order_id: UUID) -> UUID | None:
        org = self._orgs.get(order_id)
        if org is None:
            org = (await read(self.store, Order, order_id)).org_id
            if org is not None:
                self._orgs.put(order_id, org)
        return org

    async def forward(self, env: EventEnvelope) -> None:
        org = await self.org_of(env.stream_id)
        if org is None:  # not an order this store knows: nobody to tell
            return
        headers = {
            "Nats-Msg-Id": str(env.event_id),
            "Cw-Order-Id": str(env.stream_id),
            "Cw-Position": str(env.position),
        }
        await self.nc.publish(
            push_subject(self.settings.subject_prefix, org, env.event_type), _encode(env), headers=headers
        )

    async def run(self, retry_seconds: float = 5.0) -> None:
        """Until cancelled (every messaging process runs one; they share the consumer)."""
        while True:
            try:
                await EventSubscriber(
                    self.nc, self.settings, CONSUMER, self.forward, subjects="order.>", deliver=DeliverPolicy.NEW
                ).run()
            except Unavailable as e:
                log.warning("order_push.unavailable", error=str(e))
            await asyncio.sleep(retry_seconds)
