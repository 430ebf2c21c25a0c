"""NATS: the connection, the events stream, and a pipelined JetStream publisher.

nats-py errors are translated into `infra.errors.Unavailable` here, at the boundary.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig, StreamInfo

from infra.errors import Unavailable
from infra.logging import get_logger
from infra.settings import Settings

log = get_logger(__name__)

DUPLICATE_WINDOW_SECONDS = 120.0
RECONNECT_WAIT_SECONDS = 0.5
_STREAM_NAME_IN_USE = 10058

# What nats-py raises when the server cannot be reached or does not answer in time.
NatsFailure = (nats.errors.Error, asyncio.TimeoutError, OSError)

Hook = Callable[[], Awaitable[None]]


async def connect(
    settings: Settings,
    *,
    name: str = "coursewright",
    on_disconnect: Hook | None = None,
    on_reconnect: Hook | None = None,
) -> Client:
    """Connect to `settings.nats_url`; once connected the client reconnects forever.

    Raises Unavailable when the first connection cannot be made (two quick attempts), so a
    caller decides itself how long to wait for NATS instead of hanging inside nats-py.
    """
    errors_seen = 0

    async def error_cb(e: Exception) -> None:
        nonlocal errors_seen
        errors_seen += 1
        # A reconnect loop fails twice a second while the server is down: log a sample.
        if errors_seen == 1 or errors_seen % 120 == 0:
            log.warning("nats.error", error=repr(e), count=errors_seen)

    async def disconnected_cb() -> None:
        if nc.is_closed:  # we closed it ourselves
            return
        log.warning("nats.disconnected", url=settings.nats_url)
        if on_disconnect is not None:
            await on_disconnect()

    async def reconnected_cb() -> None:
        nonlocal errors_seen
        errors_seen = 0
        log.info("nats.reconnected", url=settings.nats_url)
        if on_reconnect is not None:
            await on_reconnect()

    nc = Client()
    try:
        await nc.connect(
            servers=[settings.nats_url],
            name=name,
            allow_reconnect=True,
            max_reconnect_attempts=1,
            reconnect_time_wait=RECONNECT_WAIT_SECONDS,
            connect_timeout=2,
            ping_interval=5,
            max_outstanding_pings=2,
            error_cb=error_cb,
            disconnected_cb=disconnected_cb,
            reconnected_cb=reconnected_cb,
        )
    except NatsFailure as e:
        with contextlib.suppress(Exception):
            await nc.close()
        raise Unavailable("nats", f"{settings.nats_url}: {e!r}") from e
    # Bounded attempts for the first connection only; from now on never give up.
    nc.options["max_reconnect_attempts"] = -1
    return nc


def events_stream_config(settings: Settings) -> StreamConfig:
    return StreamConfig(
        name=settings.events_stream,
        subjects=[f"{settings.subject_prefix}.evt.>"],
        storage=StorageType.FILE,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        num_replicas=settings.stream_replicas,
    )


async def ensure_events_stream(js: JetStreamContext, settings: Settings) -> StreamInfo:
    """Create the events stream if it is missing; an existing one is kept as it is.

    A stream whose configuration differs is logged, not changed: changing subjects or the
    duplicate window of a live stream is an operator's decision.
    """
    wanted = events_stream_config(settings)
    try:
        try:
            info = await js.stream_info(settings.events_stream)
        except nats.js.errors.NotFoundError:
            try:
                return await js.add_stream(wanted)
            except nats.js.errors.BadRequestError as e:
                if e.err_code != _STREAM_NAME_IN_USE:  # lost a race with another creator: fine
                    raise
                info = await js.stream_info(settings.events_stream)
    except NatsFailure as e:
        raise Unavailable("nats", f"stream {settings.events_stream}: {e!r}") from e
    have = info.config
    drift = {
        key: (getattr(have, key), getattr(wanted, key))
        for key in ("subjects", "storage", "duplicate_window", "num_replicas")
        if getattr(have, key) != getattr(wanted, key)
    }
    if drift:
        log.warning("nats.stream_config_differs", stream=settings.events_stream, drift=str(drift))
    return info


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


class AckPipeline:
    """Publishes pre-encoded messages to JetStream with up to `window` awaiting their ack.

    We do not use `js.publish_async`: in nats-py 2.16 a rejected publish leaves its future
    pending forever (nats-io/nats.py#985), and rejections are exactly what ordering relies on.
    This does the same thing more cheaply: every message carries a reply subject
    `<inbox>.<tag>` (tags increase), one subscription receives the acks, and the frames are
    written to the connection's buffer in chunks. The server answers one connection's
    publishes to one stream in order, so `acked_tag` is the last message stored (or found a
    duplicate) before the first rejection, which is recorded in `error`.
    """

    def __init__(self, nc: Client, window: int, ack_timeout: float = 10.0) -> None:
        if not hasattr(nc, "_send_command") or not hasattr(nc, "_flush_pending"):
            raise RuntimeError("nats-py internals changed: AckPipeline needs _send_command")
        self._nc = nc
        self._window = max(1, window)
        self._ack_timeout = ack_timeout
        self._inbox = nc.new_inbox()
        self._reply_prefix = (self._inbox + ".").encode()
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

    def frame(self, subject: bytes, headers: bytes, body: bytes, tag: int) -> bytes:
        """One HPUB command; `headers` is the whole block, b"NATS/1.0\\r\\n" to the blank line."""
        return b"HPUB %s %s%d %d %d\r\n%s%s\r\n" % (
            subject,
            self._reply_prefix,
            tag,
            len(headers),
            len(headers) + len(body),
            headers,
            body,
        )

    async def send(self, frames: list[bytes]) -> None:
        """Write frames to the connection (never while disconnected: we would lose track)."""
        if self.error is not None:
            raise self.error
        nc = self._nc
        if not nc.is_connected:
            raise Unavailable("nats", "not connected")
        if not self.in_flight:
            self.last_ack_at = time.monotonic()
        self.sent += len(frames)
        await nc._send_command(b"".join(frames))
        if nc._flush_queue is not None and nc._flush_queue.empty():
            await nc._flush_pending()

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
