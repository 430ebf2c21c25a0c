"""A worker's durable subscription to the events stream: each event handled, acked, retried or parked.

For workers whose effects are commands (the generation pipeline, certificates, notifications):
their progress is the JetStream consumer's ack floor, and every command they send carries an
idempotency key derived from the event, so a redelivery has no second effect. (Projections keep
their checkpoint in their own transaction instead: projections.applier.)

- Each event is acked once `handle` returned; until then the subscriber reports it in progress
  every third of `ack_wait`, so a worker killed mid-event loses it after `ack_wait` (and this or
  another member of the same durable gets it again), however long a live handler takes.
- An event whose handler raised is delivered again after a growing delay; after `max_deliver`
  attempts, or at once when it cannot even be decoded, it is parked on the dead-letter subject
  with the error and acked, so one poison event never blocks the ones behind it.
- Up to `concurrency` events are handled at once (several orders generate side by side).
- Where a new durable starts is `deliver`: every event the stream keeps (`DeliverPolicy.ALL`, a
  worker that owes an effect to each event), or only those published from its creation on
  (`DeliverPolicy.NEW`, a forwarder to live clients). Either way it is created once: after a
  restart it resumes from its ack floor, so what was published while it was down comes next.
"""

from __future__ import annotations

import asyncio
import contextlib
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from infra.backoff import Backoff
from infra.errors import Unavailable
from infra.eventlog.consumer import decode_message, position_header
from infra.eventlog.deadletters import DeadLetter, DeadLetters
from infra.logging import get_logger
from infra.nats import NatsFailure, ensure_events_stream
from infra.settings import Settings
from schemas.envelope import EventEnvelope, Headers

log = get_logger(__name__)

Handler = Callable[[EventEnvelope], Awaitable[None]]
FETCH_WAIT = 2.0  # seconds a fetch waits for an event before asking again


class EventSubscriber:
    """Runs `handle` on every event of `subjects` (event types, e.g. `order.*`) until cancelled."""

    def __init__(
        self,
        nc: Client,
        settings: Settings,
        name: str,
        handle: Handler,
        *,
        subjects: str = ">",
        concurrency: int = 1,
        max_deliver: int = 5,
        ack_wait: float = 300.0,
        retry: Backoff | None = None,
        deliver: DeliverPolicy = DeliverPolicy.ALL,
    ) -> None:
        self.nc = nc
        self.settings = settings
        self.name = name
        self.handle = handle
        self.subject = f"{settings.subject_prefix}.evt.{subjects}"
        self.concurrency = max(1, concurrency)
        self.max_deliver = max(1, max_deliver)
        self.ack_wait = ack_wait
        self.retry = retry or Backoff(initial=1.0, maximum=60.0)
        self.deliver = deliver  # where the durable starts when it is first created
        self.handled = 0
        self.parked = 0

    async def run(self) -> None:
        js = self.nc.jetstream()
        try:
            await ensure_events_stream(js, self.settings)
            dead_letters = DeadLetters(js, self.settings, self.name)
            await dead_letters.ensure_stream()
            # One more delivery than max_deliver: the last one only parks the event.
            config = ConsumerConfig(
                durable_name=self.name,
                filter_subject=self.subject,
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=self.deliver,
                ack_wait=self.ack_wait,
                max_deliver=self.max_deliver + 1,
                max_ack_pending=self.concurrency * 4,
            )
            subscription = await js.pull_subscribe(
                self.subject, durable=self.name, stream=self.settings.events_stream, config=config
            )
        except NatsFailure as e:
            raise Unavailable("nats", repr(e)) from e
        log.info("subscriber.started", consumer=self.name, subject=self.subject, concurrency=self.concurrency)
        try:
            async with asyncio.TaskGroup() as group:
                for i in range(self.concurrency):
                    group.create_task(self._lane(subscription, dead_letters), name=f"{self.name}-{i}")
        finally:
            with contextlib.suppress(Exception):  # bounded: a stop never hangs on a slow server
                async with asyncio.timeout(5):
                    await subscription.unsubscribe()

    async def _lane(self, subscription: Any, dead_letters: DeadLetters) -> None:
        while True:
            try:
                msgs = await subscription.fetch(1, timeout=FETCH_WAIT)
            except TimeoutError:
                continue
            except NatsFailure as e:
                # Disconnected: an outage its connection reports (once); else a problem of its own.
                say = log.warning if self.nc.is_connected else log.debug
                say("subscriber.fetch_failed", consumer=self.name, error=repr(e))
                await asyncio.sleep(FETCH_WAIT)
                continue
            for msg in msgs:
                await self._one(msg, dead_letters)

    async def _one(self, msg: Msg, dead_letters: DeadLetters) -> None:
        attempt = msg.metadata.num_delivered or 1
        try:
            env = decode_message(msg.data)
        except (msgspec.DecodeError, ValueError) as e:
            await self._park(msg, dead_letters, None, f"undecodable event: {e}")
            return
        bound = log.bind(
            consumer=self.name, position=env.position, event_type=env.event_type, correlation_id=env.correlation_id
        )
        if attempt > self.max_deliver:
            await self._park(msg, dead_letters, env, f"still failing after {self.max_deliver} attempts")
            return
        beat = asyncio.create_task(self._heartbeat(msg))
        try:
            await self.handle(env)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            error = "".join(traceback.format_exception_only(e)).strip()
            if attempt >= self.max_deliver:
                await self._park(msg, dead_letters, env, error)
                return
            delay = self.retry.delay(attempt)
            bound.warning("subscriber.retry", attempt=attempt, delay=round(delay, 2), error=error)
            with contextlib.suppress(*NatsFailure):
                await msg.nak(delay=delay)
            return
        finally:
            beat.cancel()
        with contextlib.suppress(*NatsFailure):  # unacked: delivered again after ack_wait
            await msg.ack()
        self.handled += 1

    async def _heartbeat(self, msg: Msg) -> None:
        """Tell the server the event is still being handled, every third of `ack_wait`: a long job
        keeps its event, and a worker that died loses it after `ack_wait`, not after the job's length."""
        while True:
            await asyncio.sleep(self.ack_wait / 3)
            with contextlib.suppress(*NatsFailure):
                await msg.in_progress()

    async def _park(self, msg: Msg, dead_letters: DeadLetters, env: EventEnvelope | None, error: str) -> None:
        headers = msg.headers or {}
        letter = DeadLetter(
            consumer=self.name,
            position=env.position if env else position_header(headers),
            event_id=str(env.event_id) if env else headers.get(Headers.MSG_ID),
            event_type=env.event_type if env else msg.subject.rpartition(".")[2] or "_",  # ...evt.<category>.<type>
            stream_id=str(env.stream_id) if env else None,
            error=error,
            payload=env.payload if env else msgspec.Raw(b"null"),
        )
        log.error("subscriber.parked", consumer=self.name, position=letter.position, error=error)
        try:
            await dead_letters.park(letter)
        except Unavailable as e:
            log.warning("subscriber.park_failed", consumer=self.name, error=str(e))
            with contextlib.suppress(*NatsFailure):
                await msg.nak(delay=self.retry.maximum)  # try again later, never lose it
            return
        with contextlib.suppress(*NatsFailure):
            await msg.ack()
        self.parked += 1
