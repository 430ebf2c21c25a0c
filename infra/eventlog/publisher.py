"""Publishes messages to JetStream with many awaiting their ack, and tells which were stored.

We do not use nats-py's `js.publish_async`: in nats-py 2.16 a rejected publish leaves its future
pending forever (nats-io/nats.py#985), and rejections are exactly what the relay's ordering
relies on. Instead every message is a plain core publish with the reply subject `<inbox>.<tag>`
(tags increase), and one subscription receives the acks. The server answers one connection's
publishes to one stream in order, so `acked_tag` is the last message stored (or found a
duplicate) before the first rejection, which is recorded in `error`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg

from infra.errors import Unavailable
from infra.nats import NatsFailure


class PubAck(msgspec.Struct):
    stream: str = ""
    seq: int = 0
    duplicate: bool = False
    error: dict[str, Any] | None = None


_decode_ack = msgspec.json.Decoder(PubAck).decode


class PublishRejected(Exception):
    """JetStream refused one message; `tag` names it, `description` says why."""

    def __init__(self, tag: int, code: int, err_code: int, description: str) -> None:
        super().__init__(f"message {tag} rejected: {code}/{err_code} {description}")
        self.tag = tag
        self.code = code
        self.err_code = err_code
        self.description = description


class Publisher:
    """Publishes to JetStream with up to `window` messages awaiting their ack."""

    def __init__(self, nc: Client, window: int, ack_timeout: float = 10.0) -> None:
        self._nc = nc
        self._window = max(1, window)
        self._ack_timeout = ack_timeout
        self._inbox = nc.new_inbox()
        self._tag_offset = len(self._inbox) + 1
        self._sub: Any = None
        self._wake = asyncio.Event()
        self._wake_at = 0  # wake the sender once this few messages are in flight
        self.sent = 0
        self.acked = 0  # replies received, rejections included
        self.stored = 0  # messages stored before the first rejection (duplicates excluded)
        self.duplicates = 0
        self.acked_tag = 0
        self.last_ack_at = time.monotonic()
        self.error: Exception | None = None

    @property
    def in_flight(self) -> int:
        return self.sent - self.acked

    async def start(self) -> None:
        try:
            self._sub = await self._nc.subscribe(self._inbox + ".*", cb=self._on_ack)
        except NatsFailure as e:
            raise Unavailable("nats", repr(e)) from e

    async def close(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    def fail(self, error: Exception) -> None:
        """Stop trusting acks from here on (a disconnect leaves what was in flight in doubt)."""
        if self.error is None:
            self.error = error
        self._wake.set()

    async def publish(self, subject: str, body: bytes, headers: dict[str, str], tag: int) -> None:
        """Send one message; its ack is counted under `tag` (never while disconnected: we would
        lose track of what was stored)."""
        if self.error is not None:
            raise self.error
        nc = self._nc
        if not nc.is_connected:
            raise Unavailable("nats", "not connected")
        if not self.in_flight:
            self.last_ack_at = time.monotonic()
        self.sent += 1
        try:
            await nc.publish(subject, body, reply=f"{self._inbox}.{tag}", headers=headers)
        except NatsFailure as e:
            self.fail(Unavailable("nats", repr(e)))
            raise self.error from e  # type: ignore[misc]

    def check(self) -> None:
        """Raise the first rejection, or Unavailable once acks stopped for `ack_timeout`."""
        if self.error is None and self.in_flight and time.monotonic() - self.last_ack_at > self._ack_timeout:
            detail = f"no ack for {self._ack_timeout:.0f}s, {self.in_flight} in flight"
            self.fail(Unavailable("nats", detail))
        if self.error is not None:
            raise self.error

    async def wait_below(self, limit: int | None = None) -> None:
        """Wait until fewer than `limit` (default: the window) messages are in flight."""
        limit = max(self._window if limit is None else limit, 1)
        while True:
            self.check()
            if self.in_flight < limit:
                return
            self._wake_at = limit - 1
            self._wake.clear()
            remaining = self.last_ack_at + self._ack_timeout - time.monotonic()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(remaining, 0) + 0.01):
                    await self._wake.wait()

    async def drain(self) -> None:
        """Wait for every ack; raises like `check`."""
        await self.wait_below(1)

    async def _on_ack(self, msg: Msg) -> None:
        self.last_ack_at = time.monotonic()
        self.acked += 1
        try:
            tag = int(msg.subject[self._tag_offset :])
        except ValueError:
            return
        if self.error is not None:
            return
        data = msg.data
        if not data:  # a status message: 503 means no stream listens on the subject
            status = (msg.headers or {}).get("Status", "")
            self.fail(PublishRejected(tag, int(status or 0), 0, "no stream for subject"))
            return
        if b'"error"' in data or b'"duplicate"' in data:
            try:
                ack = _decode_ack(data)
            except msgspec.DecodeError:
                ack = PubAck(error={"code": 0, "description": data[:200].decode(errors="replace")})
            if ack.error is not None:
                err = ack.error
                self.fail(
                    PublishRejected(
                        tag,
                        int(err.get("code", 0)),
                        int(err.get("err_code", 0)),
                        str(err.get("description", "")),
                    )
                )
                return
            if ack.duplicate:
                self.duplicates += 1
                self.stored -= 1
        self.stored += 1
        if tag > self.acked_tag:
            self.acked_tag = tag
        if self.in_flight <= self._wake_at:
            self._wake.set()
