"""The certifier: a process manager that issues a certificate for every completed enrolment.

It follows the completions on the events stream (`infra.eventlog.subscriber.EventSubscriber`,
durable consumer `certifier`) and sends `IssueCertificate` for each through the command bus,
acting as the platform. The certificate's stream id derives from the enrolment and the
completion's round, and the command's idempotency key from the event id, so a redelivery, a
restart or a second certifier issues nothing twice. Each is decided once, on a fresh read
(`Context.held_first` off): the certifier's process never holds the streams it needs.
"""

from __future__ import annotations

from uuid import UUID

from commands.bus import CommandBus
from commands.context import Context
from domain.certificate import NothingToCertify
from domain.enrollment import Enrollment
from domain.ids import name_id
from infra.eventlog import EventEnvelope, wire_name
from infra.eventlog.subscriber import EventSubscriber
from infra.logging import get_logger
from infra.nats import NatsConnector, close_quietly
from infra.settings import Settings
from schemas.certificates import IssueCertificate
from schemas.roles import PLATFORM_ADMIN

log = get_logger(__name__)

CERTIFIER_ID = UUID("ce271f1e-0000-7000-8000-000000000001")  # the actor of every issue
_KEYS = UUID("9d7c1e52-3a4f-4b8e-a1d6-0f5e2c7b9a31")
COMPLETED = wire_name(Enrollment.Completed)


class Certifier:
    def __init__(self, bus: CommandBus, settings: Settings, nats: NatsConnector, *, concurrency: int = 16) -> None:
        self.bus = bus
        self.settings = settings
        self.nats = nats
        self.concurrency = concurrency
        self.issued = 0  # certificates this process issued (a replayed answer issued nothing)

    async def handle(self, env: EventEnvelope) -> None:
        if env.event_type != COMPLETED:
            return
        ctx = Context(
            actor_id=CERTIFIER_ID,
            org_id=UUID(env.org_id) if env.org_id else CERTIFIER_ID,
            roles=frozenset({PLATFORM_ADMIN}),
            correlation_id=env.correlation_id or str(env.event_id),
            causation_id=str(env.event_id),
            idempotency_key=str(name_id(_KEYS, f"certify:{env.event_id}")),
            held_first=False,  # the gateways wrote the enrolment: this process holds none of it
        )
        try:
            result = await self.bus.handle(IssueCertificate(enrollment_id=env.stream_id, completion=env.version), ctx)
        except NothingToCertify as e:  # not a completion this store knows: nothing will change that
            log.warning("certificate.nothing_to_certify", position=env.position, error=str(e))
            return
        if result.replayed:  # a redelivery: the first handling issued it (and counted it)
            return
        if result.data.get("issued"):
            self.issued += 1
            log.info("certificate.issued", certificate_id=result.id, position=env.position)

    async def run(self) -> None:
        """Follow the completions until cancelled."""
        nc = await self.nats.connect("certifier")
        try:
            subscriber = EventSubscriber(
                nc,
                self.settings,
                "certifier",
                self.handle,
                subjects=f"{Enrollment.stream_type}.{COMPLETED}",
                concurrency=self.concurrency,
            )
            await subscriber.run()
        finally:
            await close_quietly(nc)
