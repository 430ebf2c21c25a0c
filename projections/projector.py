"""The live projector: a durable JetStream consumer per projection, the log as its backstop."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime
from typing import Any

import msgspec
from nats.aio.msg import Msg

from infra.backoff import Backoff
from infra.cache import Cache
from infra.errors import Unavailable
from infra.eventlog import EventEnvelope
from infra.eventlog.consumer import PullConsumer, decode_message, position_header
from infra.eventlog.deadletters import DeadLetter, DeadLetters
from infra.eventlog.reader import LogReader
from infra.gcpolicy import HEAP
from infra.logging import get_logger
from infra.nats import NatsConnector, close_quietly, ensure_events_stream
from infra.settings import Settings
from projections import metrics
from projections.applier import Applier, Outcome
from projections.model import Projection
from projections.rebuild import rebuild
from projections.store import connect, ensure_schema

log = get_logger(__name__)

IDLE_SECONDS = 0.5  # no message for this long: compare with the log head, catch up from the log
LAG_EVERY = 1.0
NATS_RETRY_SECONDS = 5.0


def durable_name(settings: Settings, projection: str) -> str:
    return f"proj_{projection}"


class Projector:
    """Runs one projection until cancelled."""

    def __init__(
        self,
        settings: Settings,
        projection: type[Projection],
        nats: NatsConnector,
        *,
        cache: Cache | None = None,
        batch: int = 1000,
    ) -> None:
        self.settings = settings
        self.nats = nats
        self.projection_type = projection
        self.projection = projection()
        self.cache = cache
        self.batch = batch
        self.name = projection.name
        self._nc: Any = None
        self._js: Any = None
        self._puller: PullConsumer | None = None
        self._dead_letters: DeadLetters | None = None
        self._nats_tried = 0.0
        self._lag_at = 0.0
        self._dead_backlog: list[tuple[EventEnvelope, str]] = []

    async def run(self) -> None:
        conn = await connect(self.settings.pg_dsn, f"cw-projector:{self.name}")
        try:
            if not await ensure_schema(conn, self.projection_type):
                log.warning("projection.version_changed", projection=self.name)
                await rebuild(self.settings.pg_dsn, self.projection_type)
            self.applier = Applier(self.projection, conn, self.projection.schema())
            self.conn = conn
            self.log = LogReader(conn, barrier=False)  # reads the head and times, hands nothing out
            await self._open_nats()
            await self._catch_up()
            me = asyncio.current_task()
            while True:
                if me is not None and me.cancelling():  # a cancellation a library swallowed
                    raise asyncio.CancelledError
                await self._step()
        finally:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5.0):  # a stop must not wait on a dead server
                    await self._close_nats()
            await conn.close()

    async def _step(self) -> None:
        if self._puller is None and time.monotonic() - self._nats_tried >= NATS_RETRY_SECONDS:
            await self._open_nats()
        msgs = await self._puller.next(IDLE_SECONDS) if self._puller else []
        if msgs:
            events = self._events(msgs)
            out = await self.applier.apply(events)
            await self._after(out)
            await msgs[-1].ack()  # AckAll: everything up to here is in the read model
            HEAP.settle()
        else:
            await self._catch_up()
        if time.monotonic() - self._lag_at >= LAG_EVERY:
            await self._measure_lag()

    def _events(self, msgs: list[Msg]) -> list[EventEnvelope]:
        events = []
        for m in msgs:
            try:
                events.append(decode_message(m.data))
            except (msgspec.DecodeError, ValueError) as e:
                # An unreadable message still names its position: the log fills it in.
                position = position_header(m.headers)
                log.warning("projection.bad_message", projection=self.name, position=position, error=str(e))
        return events

    async def _catch_up(self) -> None:
        """Apply from the log whatever JetStream has not brought (lost, late, or NATS down)."""
        head = await self.log.head()
        if self.applier.started and self.applier.position >= head:
            return
        while True:
            out = await self.applier.apply([], fill_to=head)
            await self._after(out)
            if out.position >= head:
                break

    async def _after(self, out: Outcome) -> None:
        if out.parked:
            await self._publish_dead(out.parked)
        if out.touched and self.cache is not None:
            await self.cache.invalidate(out.touched)

    async def _publish_dead(self, parked: list[tuple[EventEnvelope, str]]) -> None:
        self._dead_backlog.extend(parked)
        if self._dead_letters is None:
            return  # published once NATS is back; the table row is the record meanwhile
        while self._dead_backlog:
            env, error = self._dead_backlog[0]
            letter = DeadLetter(
                consumer=self.name,
                position=env.position,
                event_id=str(env.event_id),
                event_type=env.event_type,
                stream_id=str(env.stream_id),
                error=error,
                payload=env.payload,
            )
            try:
                await self._dead_letters.park(letter)
            except Unavailable as e:  # the table row is the record; retried after the next batch
                log.warning("projection.dlq_publish_failed", projection=self.name, error=str(e))
                return
            self._dead_backlog.pop(0)

    async def _measure_lag(self) -> None:
        self._lag_at = time.monotonic()
        head = await self.log.head()
        behind = max(0, head - self.applier.position)
        seconds = 0.0
        if behind:
            at = await self.log.recorded_at(self.applier.position + 1)
            if at is not None:
                seconds = max(0.0, (datetime.now(UTC) - at).total_seconds())
        metrics.record_lag(self.name, behind, seconds)

    async def _open_nats(self) -> None:
        self._nats_tried = time.monotonic()
        try:
            nc = await self.nats.connect(f"cw-projector-{self.name}")
            js = nc.jetstream()
            await ensure_events_stream(js, self.settings)
            dead_letters = DeadLetters(js, self.settings, self.name)
            await dead_letters.ensure_stream()
            puller = PullConsumer(
                nc,
                js,
                self.settings.events_stream,
                durable_name(self.settings, self.name),
                f"{self.settings.subject_prefix}.evt.>",
                batch=self.batch,
            )
            await puller.start()
        except Exception as e:
            # NATS itself away: the connector logs the outage once; the log meanwhile fills in.
            say = log.warning if self.nats.availability.up else log.info
            say("projection.nats_unavailable", projection=self.name, error=repr(e))
            if "nc" in locals():
                await close_quietly(nc)
            return
        self._nc, self._js, self._puller, self._dead_letters = nc, js, puller, dead_letters
        await self._publish_dead([])

    async def _close_nats(self) -> None:
        if self._puller is not None:
            await self._puller.close()
        if self._nc is not None:
            await close_quietly(self._nc)
        self._nc = self._js = self._puller = self._dead_letters = None


async def run_projector(
    settings: Settings, projection: type[Projection], nats: NatsConnector, cache: Cache | None
) -> None:
    """One projector, restarted with a growing pause when it fails, until cancelled."""
    backoff = Backoff(initial=0.5, maximum=30.0)
    while True:
        started = time.monotonic()
        try:
            await Projector(settings, projection, nats, cache=cache).run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("projection.crashed", projection=projection.name)
        if time.monotonic() - started > 60:
            backoff.reset()  # it ran a while: a new failure, not a crash loop
        await backoff.sleep()
