"""A durable JetStream pull consumer that hands over whatever has arrived, as soon as it arrives.

nats-py's `fetch(n)` waits until n messages came or its timeout passed, which would add that
timeout to the latency of a lone event. This keeps pull requests outstanding instead (published
on the JetStream API subject `$JS.API.CONSUMER.MSG.NEXT.<stream>.<durable>`, answered on an
inbox we subscribe to) and returns the messages already delivered the moment there is at least
one. The consumer acknowledges with AckAll: acking a message acks everything before it, so a
worker acks the last message of a batch once the whole batch is handled; what it never acks is
delivered again after `ack_wait`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from schemas.envelope import EventEnvelope, Headers

PULL_EXPIRES = 5.0  # seconds a pull request stays open on the server


class PullConsumer:
    def __init__(
        self,
        nc: Client,
        js: JetStreamContext,
        stream: str,
        durable: str,
        subject: str,
        *,
        batch: int = 1000,
    ) -> None:
        self.nc, self.js = nc, js
        self.stream, self.durable, self.subject = stream, durable, subject
        self.batch = batch
        self._sub: Any = None
        self._delivered: asyncio.Queue[Msg] = asyncio.Queue()
        self._credits = 0  # messages asked for and not yet received
        self._requested_at = 0.0

    async def start(self) -> None:
        await self.js.add_consumer(
            self.stream,
            ConsumerConfig(
                durable_name=self.durable,
                filter_subject=self.subject,
                ack_policy=AckPolicy.ALL,
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=60,
                max_ack_pending=4 * self.batch,
                max_deliver=-1,
            ),
        )
        self._inbox = self.nc.new_inbox()
        self._sub = await self.nc.subscribe(self._inbox, cb=self._deliver)

    async def _deliver(self, msg: Msg) -> None:
        self._delivered.put_nowait(msg)

    async def close(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None

    async def _request(self) -> None:
        now = time.monotonic()
        if now - self._requested_at >= PULL_EXPIRES - 0.2:
            self._credits = 0  # every earlier request has expired by now
        if self._credits > self.batch // 2 and now - self._requested_at < PULL_EXPIRES - 0.2:
            return
        wanted = self.batch - self._credits if self._credits < self.batch else self.batch
        body = {"batch": wanted, "expires": int(PULL_EXPIRES * 1e9)}
        await self.nc.publish(
            f"$JS.API.CONSUMER.MSG.NEXT.{self.stream}.{self.durable}",
            json.dumps(body).encode(),
            reply=self._inbox,
        )
        self._credits += wanted
        self._requested_at = now

    async def next(self, wait: float) -> list[Msg]:
        """Messages delivered so far (at least one), or [] after `wait` seconds without any."""
        if not self.nc.is_connected:
            await asyncio.sleep(wait)
            return []
        await self._request()
        queue = self._delivered
        msgs: list[Msg] = []
        deadline = time.monotonic() + wait
        while not msgs:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            try:
                # Not sub.next_msg(): its inner task and wait_for can swallow a cancellation on
                # Python 3.11, and a worker that cannot be stopped hangs shutdowns.
                async with asyncio.timeout(min(remaining, PULL_EXPIRES / 2)):
                    first = await queue.get()
            except TimeoutError:
                await self._request()
                continue
            self._take(first, msgs)
            while not queue.empty() and len(msgs) < self.batch:
                self._take(queue.get_nowait(), msgs)
            if not msgs:
                await self._request()
        return msgs

    def _take(self, msg: Msg, into: list[Msg]) -> None:
        if msg.headers and "Status" in msg.headers and not msg.data:
            # 404/408/409: a pull request ended without (all) messages: ask again.
            self._credits = 0
            self._requested_at = 0.0
            return
        self._credits = max(0, self._credits - 1)
        into.append(msg)


_envelope_decoder = msgspec.json.Decoder(EventEnvelope)


def decode_message(data: bytes) -> EventEnvelope:
    """The event a JetStream message of the events stream carries (msgspec.DecodeError if none)."""
    return _envelope_decoder.decode(data)


def position_header(headers: dict[str, str] | None) -> int | None:
    """The log position a message announces in its header, if it carries one (even when its
    body cannot be read: the log then fills it in)."""
    value = (headers or {}).get(Headers.POSITION)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
