"""The composition root: what one process shares, built once from settings, and the components
that run on it.

`Root` builds the ports, the event store (and its PostgreSQL pool), the command bus, the Redis
client, the query cache and the NATS connection factory, once, and hands them to the gateway,
the relay, the projectors, the sealer, the lab runner and the generation pipeline.
Nothing else builds a pool, a client or a port (tests/unit/test_layout.py checks the settings,
the Redis client, the pool and NATS clients); nothing imports this package. Every entry point
(`coursewright up`, `run`, `admin`, `audit`, `projections`, `eval`, `order`) reads its settings
with `load_settings` and goes through the root, and tests build the same root with ports of
their own: `Root(settings, ports)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Coroutine, Sequence
from datetime import timedelta
from types import TracebackType
from typing import Any

import redis.asyncio as redis_asyncio

from commands.bus import CommandBus
from commands.documents import SopDocuments
from commands.ports import Ports, SystemClock, TimeOrderedIds
from commands.routes import ROUTES
from gateway.audit.sealer import Sealer, seal_key, trusted_keys
from gateway.audit.service import AuditLog
from gateway.certifier import Certifier
from gateway.http import serve
from gateway.labs_remote import RemoteLabs
from gateway.messaging.serve import serve_messaging
from gateway.processes import Child, run_command
from gateway.services import Services
from gateway.supervisor import Component, run_until_signal
from infra.apikeys import ApiKeys
from infra.availability import Dependencies
from infra.backoff import Backoff
from infra.blobs.s3 import S3BlobStore
from infra.cache import Cache
from infra.eventlog.postgres import PostgresEventStore
from infra.labengine import LabEngine
from infra.labengine.docker import DockerLabEngine
from infra.labengine.placement import PlacedEngines, engine_urls
from infra.logging import configure_logging, get_logger
from infra.mail import MailDirectory, Mailer, SmtpMailer
from infra.nats import NatsConnector
from infra.outbox import MailDelivery, OutboxMailer
from infra.passwords import Argon2Passwords
from infra.relay import Relay
from infra.revocations import Revocations
from infra.settings import Settings
from labrunner.runner import LabRunner, RunnerLimits
from labrunner.service import run_runner
from projections.queries.reader import Reader
from projections.workers import run_projectors

log = get_logger(__name__)

# The components `coursewright up` runs, in start order, each a function of the root giving a
# Component.
COMPONENTS = ("relay", "projectors", "sealer", "workers", "labs", "pipeline", "gateway", "messaging")


def load_settings(*, quiet: bool = False, **overrides: Any) -> Settings:
    """The process's settings, read once from the CW_ environment (`overrides` that are not None
    win), and its logging configured from them: every entry point and command starts here. A
    one-shot command (`quiet`) logs warnings only. Raises pydantic's ValidationError."""
    settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    configure_logging("WARNING" if quiet else settings.log_level, settings.json_logs)
    return settings


def mail_transport(settings: Settings) -> Mailer:
    """How the mail worker hands mail over: SMTP when CW_SMTP_URL is set, else `.eml` files."""
    if settings.smtp_url:
        return SmtpMailer(settings.smtp_url, settings.mail_from)
    return MailDirectory(settings.data_dir / "mail", sender=settings.mail_from)


def system_ports(settings: Settings) -> Ports:
    """The ports of a running system: mail into the outbox, argon2id, the system clock, UUIDv7,
    SOP documents on the configured S3, the seal key as the certificates' signer."""
    blobs = S3BlobStore(
        settings.s3_url,
        settings.s3_access_key,
        settings.s3_secret_key.get_secret_value(),
        settings.s3_bucket,
        settings.s3_region,
    )
    return Ports(
        mail=OutboxMailer(settings.pg_dsn, TimeOrderedIds.new_id),
        passwords=Argon2Passwords(),
        clock=SystemClock(),
        ids=TimeOrderedIds(),
        documents=SopDocuments(
            blobs,
            max_bytes=settings.document_max_bytes,
            order_max_bytes=settings.order_max_bytes,
            url_expiry=timedelta(minutes=settings.upload_url_minutes),
            orphan_age=timedelta(hours=settings.upload_orphan_hours),
        ),
        signer=seal_key(settings),
    )


def lab_engine(settings: Settings) -> LabEngine:
    """The Docker engine of `CW_DOCKER_URL`, or the engines it lists, sandboxes placed across them."""
    cache = settings.lab_cache_dir.expanduser()
    engines: list[LabEngine] = [DockerLabEngine(url, cache) for url in engine_urls(settings.docker_url)]
    return engines[0] if len(engines) == 1 else PlacedEngines(engines)


class Root:
    """Settings, ports and shared clients of one process; `start` opens them, `close` closes
    them (also when `start` failed half way). Use it as `async with Root(settings) as root:`."""

    def __init__(self, settings: Settings, ports: Ports | None = None) -> None:
        self.settings = settings
        self.ports = ports or system_ports(settings)
        self.store = PostgresEventStore(
            settings.pg_dsn,
            batch_max=settings.append_batch_max,
            pool_min=settings.pg_pool_min,
            pool_max=settings.pg_pool_max,
        )
        self.dependencies = Dependencies()  # whether PostgreSQL, NATS and Redis answer, as last seen
        # The ended sign-ins, held by the process: the bus ends them, the edges check tokens against them.
        self.revocations = Revocations(
            self.store.pool,
            settings.pg_dsn,
            timedelta(minutes=settings.access_token_minutes),
            self.dependencies.postgres,
        )
        self.bus = CommandBus(
            self.store, ROUTES, self.ports, signins=self.revocations, retries=settings.command_retries
        )
        self.nats = NatsConnector(settings, self.dependencies.nats)
        self.lab_engine = lab_engine(settings)
        self.labs = LabRunner(
            self.bus,
            self.lab_engine,
            name=settings.lab_runner_name,
            limits=RunnerLimits(
                max_sessions=settings.lab_max_sessions,
                per_student=settings.lab_per_student,
                per_organisation=settings.lab_per_organisation,
                warn_before_s=settings.lab_expiry_warning_seconds,
            ),
        )
        self.remote_labs = RemoteLabs(self.nats, settings.subject_prefix)  # the `labs` process's runner
        self.api_keys = ApiKeys(self.store.pool, settings.pg_dsn, self.dependencies.postgres)
        self.redis: redis_asyncio.Redis | None = None  # None until started, or with no CW_REDIS_URL
        self.cache = self._query_cache()
        self._started = False

    async def start(self) -> None:
        """Open the event store's pool and make the Redis client. Redis not answering, now or
        later, is an outage like any other (logged once by what uses it): the cache and the
        rate limits go without it and use it again once it answers, no restart needed."""
        await self.store.start()
        self._started = True
        self.redis = _redis_client(self.settings.redis_url)
        self.cache = self._query_cache()

    async def close(self) -> None:
        await self.cache.close()
        if self.redis is not None:
            redis, self.redis = self.redis, None
            with contextlib.suppress(Exception):
                await redis.aclose()
                await redis.connection_pool.disconnect()
        if self._started:
            self._started = False
            await self.store.close()
        await self.remote_labs.close()
        await self.lab_engine.close()

    async def __aenter__(self) -> Root:
        try:
            await self.start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.close()

    def _query_cache(self) -> Cache:
        """The one query cache: the gateway reads through it, the projectors invalidate it."""
        prefix = f"{self.settings.subject_prefix}:q"
        return Cache(self.redis, prefix, name="query", redis_health=self.dependencies.redis)

    def services(self) -> Services:
        """What the gateway's handlers use (call after `start`)."""
        return Services(
            settings=self.settings,
            store=self.store,
            bus=self.bus,
            ports=self.ports,
            redis=self.redis,
            reader=Reader(self.store.pool, self.cache),
            audit=AuditLog(self.store.pool.connection, trusted_keys(self.settings)),
            dependencies=self.dependencies,
            labs=self.labs,
            remote_labs=self.remote_labs,
            nats=self.nats,
            api_keys=self.api_keys,
            revocations=self.revocations,
        )

    # -- the components ------------------------------------------------------------------------

    def relay(self) -> Component:
        """The event-store-to-JetStream relay."""
        return Component("relay", lambda: Relay(self.settings, self.nats).run())

    def projectors(self, names: Sequence[str] | None = None) -> Component:
        """Every projector (or the named ones), each restarted on its own when it fails."""
        return Component("projectors", lambda: run_projectors(self.settings, self.nats, self.cache, names))

    def sealer(self) -> Component:
        """Seals the log every CW_AUDIT_SEAL_SECONDS, signed with the platform's seal key."""
        settings = self.settings

        def run() -> Coroutine[Any, Any, None]:
            sealer = Sealer(
                self.store.pool.connection, self.bus, seal_key(settings), max_events=settings.audit_seal_max_events
            )
            return sealer.run(settings.audit_seal_seconds)

        return Component("sealer", run)

    def workers(self) -> Component:
        """The process managers, in one process: the certifier (a certificate for every
        completed enrolment) and the mail delivery (the outbox's mail, notifications and
        password resets, retried with backoff)."""
        settings = self.settings

        async def run() -> None:
            delivery = MailDelivery(
                settings.pg_dsn,
                mail_transport(settings),
                public_url=settings.public_url,
                retry=Backoff(initial=settings.mail_retry_seconds, maximum=settings.mail_retry_max_seconds),
                poll_seconds=settings.mail_poll_seconds,
                keep_sent=timedelta(days=settings.mail_keep_sent_days),
            )
            async with asyncio.TaskGroup() as group:
                group.create_task(Certifier(self.bus, settings, self.nats).run(), name="certifier")
                group.create_task(delivery.run(), name="mail")

        return Component("workers", run)

    def lab_runner(self) -> Component:
        """Lab sandboxes on the Docker engine; waits (and says so) while no engine answers; serves
        the gateways' lab requests over NATS once open."""

        async def run() -> None:
            nc = await self.nats.connect("coursewright-labs")
            try:
                await run_runner(self.labs, nc, self.settings.subject_prefix)
            finally:
                with contextlib.suppress(Exception):
                    await nc.drain()

        return Component("labs", run)

    def pipeline(self) -> Component:
        """The generation pipeline: accepted orders' SOPs to course drafts in review, through the
        bus. Its stacks (PDF, OCR, torch, litellm) are imported by this component's process only."""

        def run() -> Coroutine[Any, Any, None]:
            from gateway import pipeline_ports

            return pipeline_ports.run(self.settings, self.bus, self.ports.documents, self.nats)

        return Component("pipeline", run)

    def gateway(self) -> Component:
        """The HTTP API (Litestar on uvicorn, on the supervisor's loop)."""
        return Component("gateway", lambda: serve(self.services()))

    def messaging(self) -> Component:
        """The NATS messaging API (nats.micro request/reply on `<prefix>.api.v1.>`)."""
        return Component("messaging", lambda: serve_messaging(self.services(), self.nats))

    def components(self, names: Sequence[str] = COMPONENTS) -> list[Component]:
        built: dict[str, Callable[[], Component]] = {
            "relay": self.relay,
            "projectors": self.projectors,
            "sealer": self.sealer,
            "workers": self.workers,
            "labs": self.lab_runner,
            "pipeline": self.pipeline,
            "gateway": self.gateway,
            "messaging": self.messaging,
        }
        return [built[name]() for name in names]


def processes(settings: Settings, names: Sequence[str] = COMPONENTS) -> list[Child]:
    """The processes `coursewright up` runs: one per component, the gateway once per worker
    (`CW_HTTP_WORKERS`, default one per core), all listening on the one port."""
    children = []
    for name in names:
        count = (settings.http_workers or os.cpu_count() or 1) if name == "gateway" else 1
        children += [Child(name if count == 1 else f"{name}-{i}", run_command(name)) for i in range(1, count + 1)]
    return children


async def run(
    root: Root,
    components: Sequence[Component],
    *,
    before: Callable[[], Coroutine[Any, Any, None]] | None = None,
    on_ready: Callable[[], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run `before` (migrations), start the root, then the components until SIGINT or SIGTERM;
    close the root last."""

    async def prepare() -> None:
        if before is not None:
            await before()
        await root.start()

    try:
        await run_until_signal(components, before=prepare, on_ready=on_ready, stop=stop)
    finally:
        await root.close()


def _redis_client(url: str | None) -> redis_asyncio.Redis | None:
    """The process's Redis client; it connects on first use, so whatever uses it reports to
    the Redis `Availability` (a process that never uses Redis never says it is down)."""
    if not url:
        return None
    # A blocking pool: a burst waits briefly for a connection instead of failing.
    pool = redis_asyncio.BlockingConnectionPool.from_url(url, max_connections=128, timeout=5, socket_connect_timeout=2)
    return redis_asyncio.Redis(connection_pool=pool)
