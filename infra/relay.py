"""The relay: publishes the event store's log to JetStream in position order, each event once.

Ordering and exactly-once rest on the stream, not on our bookkeeping:

* Every message carries `Nats-Expected-Last-Msg-Id` = the event id of the message before it, so
  JetStream stores a message only right after its predecessor. Whatever gets lost or replayed
  around a crash, a disconnect or a second relay, the stream stays a gap-free prefix of the log.
  A re-sent message the stream already holds is answered as a duplicate (the server checks
  `Nats-Msg-Id` first, within the two-minute window) and is not stored again.
* On start and after any error the relay reconciles: the `Cw-Position` header of the stream's
  last message is what was published; it resumes right after it. The checkpoint table is only
  used when the stream is empty, and is otherwise a progress record for people.
* A server that restarted after the duplicate window has forgotten the last message id (NATS
  2.9 rejects everything with "wrong last msg ID: "); the relay then publishes the one message
  after the reconciled position without the header, which restores the chain.

One relay per stream publishes: it holds a PostgreSQL advisory lock; others wait as standbys.
Run it with `coursewright run relay` (gateway/bootstrap.py builds it).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import time
from collections.abc import Sequence
from typing import Any

import msgspec
import nats.js.errors
import psycopg
from nats.aio.client import Client
from nats.js import JetStreamContext

from infra.backoff import Backoff
from infra.errors import Unavailable
from infra.eventlog.postgres import NOTIFY_CHANNEL
from infra.eventlog.publisher import Publisher, PublishRejected
from infra.eventlog.reader import LogReader
from infra.logging import get_logger
from infra.nats import NatsConnector, NatsFailure, close_quietly, ensure_events_stream
from infra.settings import Settings
from schemas.envelope import EventEnvelope, Headers

log = get_logger(__name__)

EXPECTED_LAST_MSG_ID = "Nats-Expected-Last-Msg-Id"
RELAY_ERROR = "Cw-Relay-Error"  # set on a stand-in for an event that could not be published
_WRONG_LAST_MSG_ID = 10070
_GAP_GRACE_SECONDS = 10.0  # a hole in the positions this old is taken as permanent
_STRIKES = 3  # the same rejection this often at the same position: publish a stand-in
_CHECKPOINT_SECONDS = 1.0
_SCAN_BACK = 1000  # foreign or deleted messages skipped looking for our last one
_MESSAGE_REJECTED = {10054}  # JetStream errors about the message itself (10054: too large)

_CHECKPOINT = (
    "INSERT INTO cw_relay_checkpoint (name, position, updated_at) VALUES (%s, %s, now())"
    " ON CONFLICT (name) DO UPDATE SET updated_at = now(),"
    " position = GREATEST(cw_relay_checkpoint.position, EXCLUDED.position)"
)
_NOT_TOKEN = re.compile(r"[^A-Za-z0-9_\-]")
_encode = msgspec.json.Encoder().encode
_NULL = msgspec.Raw(b"null")
_HEADROOM = 512  # more than the relay's headers ever take: below it, no need to count them


def lock_key(stream: str) -> int:
    """The advisory lock key of the relay for `stream` (a signed 64-bit int)."""
    return int.from_bytes(hashlib.sha256(f"cw_relay:{stream}".encode()).digest()[:8], "big", signed=True)


def _header_value(value: str) -> str:
    # Free text (a correlation id) must not break the header block.
    if "\r" in value or "\n" in value:
        value = value.replace("\r", " ").replace("\n", " ")
    return value


class _Messages:
    """Turns events into subject, headers and envelope body."""

    def __init__(self, settings: Settings, max_payload: int) -> None:
        self._settings = settings
        self._max_payload = max_payload
        self._subjects: dict[tuple[str, str], str] = {}
        self.stand_in: set[int] = set()  # positions to publish as stand-ins

    def _subject(self, stream_type: str, event_type: str) -> str:
        subject = self._subjects.get((stream_type, event_type))
        if subject is None:
            category = _NOT_TOKEN.sub("_", stream_type) or "_"
            kind = _NOT_TOKEN.sub("_", event_type) or "_"
            if (category, kind) != (stream_type, event_type):
                log.warning("relay.subject_sanitised", stream_type=stream_type, event_type=event_type)
            subject = self._settings.event_subject(category, kind)
            if len(self._subjects) > 10_000:
                self._subjects.clear()
            self._subjects[(stream_type, event_type)] = subject
        return subject

    def build(self, env: EventEnvelope, event_id: str, prev_id: str | None) -> tuple[str, dict[str, str], bytes]:
        """(subject, headers, body) of one event; a stand-in when the event cannot be sent.

        Only what JetStream and the relay itself need travels as headers: the message id (dedupe),
        the expected last id (order) and the position (reconcile, and a consumer that cannot read
        a body still knows which event to take from the log). Everything else is in the envelope
        body every consumer decodes: each header costs the client about as much as the body's
        encoding (issue 17: 9 headers held the relay at 0.74 of raw publish_async)."""
        if prev_id is None:
            headers = {Headers.MSG_ID: event_id, Headers.POSITION: str(env.position)}
        else:
            headers = {Headers.MSG_ID: event_id, Headers.POSITION: str(env.position), EXPECTED_LAST_MSG_ID: prev_id}
        error = "rejected by JetStream" if env.position in self.stand_in else None
        body = b""
        if error is None:
            try:
                body = _encode(env)
            except Exception as e:
                error = f"cannot encode: {e!r}"[:200]
            else:
                if len(body) + _HEADROOM > self._max_payload:
                    header_size = sum(len(k) + len(v) + 4 for k, v in headers.items()) + 12
                    if len(body) + header_size > self._max_payload:
                        error = f"too large: {len(body)} bytes"
        if error is not None:
            # Keep position and order: a consumer sees the header and reads the event itself.
            log.error("relay.stand_in", position=env.position, event_id=event_id, reason=error)
            headers[RELAY_ERROR] = _header_value(error)
            body = _encode(msgspec.structs.replace(env, payload=_NULL))
        subject = self._subjects.get((env.stream_type, env.event_type))
        if subject is None:
            subject = self._subject(env.stream_type, env.event_type)
        return subject, headers, body


class Relay:
    """Tails the event log and publishes to JetStream; `run()` until cancelled."""

    def __init__(self, settings: Settings, nats: NatsConnector, *, ack_timeout: float = 10.0) -> None:
        self.settings = settings
        self.nats = nats
        self.name = settings.events_stream
        self.ack_timeout = ack_timeout
        self.active = False  # holds the advisory lock
        self.head = 0  # last log position seen
        self.reconciles = 0
        self._position = 0
        self._published = 0
        self._pipeline: Publisher | None = None
        self._nc: Client | None = None
        self._wakeup = asyncio.Event()
        self._bootstrap = False  # next segment: first message without the expected-last header
        self._strikes: dict[int, int] = {}
        self._messages: _Messages | None = None
        self._checkpointed = -1
        self._failures = 0  # JetStream failures in a row at one position
        self._stuck_at = -1

    # -- metrics -----------------------------------------------------------------------------

    @property
    def position(self) -> int:
        """The last position JetStream acknowledged (the stream's, after a reconcile)."""
        p = self._pipeline
        return max(self._position, p.acked_tag) if p is not None else self._position

    @property
    def published(self) -> int:
        """Events this relay got stored in the stream."""
        p = self._pipeline
        return self._published + (p.stored if p is not None else 0)

    def lag(self) -> int:
        """Log head minus published position (as last seen; 0 when caught up)."""
        return max(0, self.head - self.position)

    # -- lifecycle ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Publish until cancelled; every failure is logged and retried with backoff."""
        listener = asyncio.create_task(self._listen(), name="relay-listen")
        backoff = Backoff(0.1, 5.0)
        try:
            while True:
                try:
                    await self._session(backoff)
                except (psycopg.Error, Unavailable, OSError) as e:
                    log.warning("relay.session_failed", stream=self.name, error=str(e))
                except Exception:
                    log.exception("relay.error", stream=self.name)
                await backoff.sleep()
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await listener
            nc, self._nc = self._nc, None
            if nc is not None:
                await close_quietly(nc)
            log.info("relay.stopped", stream=self.name, position=self.position)

    async def _pg(self) -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(
            self.settings.pg_dsn,
            autocommit=True,
            application_name="cw-relay",
            # The checkpoint is a progress note, never the truth: no need to wait for its fsync.
            options="-c TimeZone=UTC -c synchronous_commit=off",
            connect_timeout=5,
            keepalives=1,
            keepalives_idle=5,
            keepalives_interval=2,
            keepalives_count=3,
        )

    async def _session(self, backoff: Backoff) -> None:
        conn = await self._pg()
        try:
            key = lock_key(self.name)
            announced = False
            while True:
                cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", [key])
                row = await cur.fetchone()
                if row and row[0]:
                    break
                if not announced:
                    log.info("relay.standby", stream=self.name)
                    announced = True
                backoff.reset()
                await self._refresh(conn, checkpoint=True)
                await asyncio.sleep(min(1.0, max(0.1, self.settings.relay_poll_seconds)))
            self.active = True
            log.info("relay.active", stream=self.name)
            await self._active(conn, backoff)
        finally:
            self.active = False
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await self._checkpoint(conn)
            await conn.close()

    async def _listen(self) -> None:
        """LISTEN for commits and wake the reader; polling covers any notification we miss."""
        backoff = Backoff(0.5, 10.0)
        while True:
            try:
                conn = await self._pg()
                try:
                    await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    backoff.reset()
                    async for _ in conn.notifies():
                        self._wakeup.set()
                finally:
                    await conn.close()
            except (psycopg.Error, OSError):
                pass  # the session reports Postgres trouble; polling goes on meanwhile
            await backoff.sleep()

    # -- publishing --------------------------------------------------------------------------

    async def _nats(self, conn: psycopg.AsyncConnection[Any]) -> tuple[Client, JetStreamContext]:
        backoff = Backoff(0.2, 5.0)
        while self._nc is None or self._nc.is_closed:
            try:
                self._nc = await self.nats.connect(f"cw-relay {self.name}", on_disconnect=self._on_disconnect)
            except Unavailable:  # the connector reported it (once per outage)
                await self._refresh(conn)
                await backoff.sleep()
        return self._nc, self._nc.jetstream()

    async def _on_disconnect(self) -> None:
        if self._pipeline is not None:
            self._pipeline.fail(Unavailable("nats", "disconnected"))

    async def _active(self, conn: psycopg.AsyncConnection[Any], backoff: Backoff) -> None:
        nc, js = await self._nats(conn)
        self._messages = self._messages or _Messages(self.settings, nc.max_payload)
        while True:
            while not nc.is_connected:
                if nc.is_closed:
                    nc, js = await self._nats(conn)
                    continue
                await self._refresh(conn)
                await asyncio.sleep(0.2)
            try:
                after, last_id = await self._reconcile(js, conn)
            except Unavailable as e:
                self._unavailable(e)
                await backoff.sleep()
                continue
            if self._bootstrap:
                last_id, self._bootstrap = None, False
            try:
                await self._segment(conn, nc, after, last_id)
            except PublishRejected as e:
                self._rejected(e, after)
                await backoff.sleep()
            except Unavailable as e:
                self._unavailable(e)
                await backoff.sleep()
            else:
                backoff.reset()

    def _unavailable(self, e: Unavailable) -> None:
        """A failure of JetStream: part of an outage the connector logs, or (the server answers
        but JetStream keeps failing) a problem of its own, said once it persists."""
        if self.position != self._stuck_at:  # progress since the last failure: a new count
            self._stuck_at, self._failures = self.position, 0
        self._failures += 1
        if self.nats.availability.up and self._failures == _STRIKES:
            log.warning("relay.jetstream_failing", stream=self.name, error=str(e), attempts=self._failures)
        else:
            log.info("relay.retrying", stream=self.name, error=str(e), attempts=self._failures)

    def _rejected(self, e: PublishRejected, after: int) -> None:
        first = e.tag == self.position + 1 and self.position == after
        log.warning("relay.rejected", stream=self.name, position=e.tag, reason=e.description)
        if not first:
            return  # a consequence of something earlier: reconcile and see
        strikes = self._strikes[e.tag] = self._strikes.get(e.tag, 0) + 1
        if e.err_code == _WRONG_LAST_MSG_ID:
            # The server does not know the last message id (restarted after the duplicate
            # window) or knows another one: we just verified the stream's last message.
            if e.description.rstrip().endswith(":") or strikes >= _STRIKES:
                log.warning("relay.chain_restart", stream=self.name, position=e.tag)
                self._bootstrap = True
        elif e.err_code in _MESSAGE_REJECTED and strikes >= _STRIKES and self._messages:
            self._messages.stand_in.add(e.tag)

    async def _reconcile(self, js: JetStreamContext, conn: psycopg.AsyncConnection[Any]) -> tuple[int, str | None]:
        """(position, event id) of the stream's last message; the checkpoint if it is empty."""
        self.reconciles += 1
        try:
            try:
                info = await js.stream_info(self.name)
            except nats.js.errors.NotFoundError:
                info = await ensure_events_stream(js, self.settings)
            state = info.state
            found: tuple[int, str | None] | None = None
            last_id: str | None = None
            seq = state.last_seq
            lowest = max(state.first_seq, seq - _SCAN_BACK, 1)
            while state.messages and seq >= lowest and found is None:
                try:
                    msg = await js.get_msg(self.name, seq)
                except nats.js.errors.NotFoundError:
                    seq -= 1  # deleted
                    continue
                headers = msg.headers or {}
                if seq == state.last_seq:
                    last_id = headers.get(Headers.MSG_ID)
                if Headers.POSITION in headers:
                    found = (int(headers[Headers.POSITION]), last_id)
                else:
                    log.warning("relay.foreign_message", stream=self.name, seq=seq)
                    last_id = None  # not ours: restart the chain after it
                    seq -= 1
        except NatsFailure as e:
            raise Unavailable("nats", f"reconcile {self.name}: {e!r}") from e
        if found is None:
            position = await self._read_checkpoint(conn)
            found = (position, None)
        else:
            await self._check_matches(conn, *found)
        self._position = found[0]
        log.info("relay.reconciled", stream=self.name, position=found[0], last_id=found[1])
        return found

    async def _check_matches(self, conn: psycopg.AsyncConnection[Any], position: int, event_id: str | None) -> None:
        found = await LogReader(conn).at([position])
        logged = str(found[0].event_id) if found else None
        if logged is None or (event_id is not None and logged != event_id):
            log.error(
                "relay.stream_mismatch",
                stream=self.name,
                position=position,
                stream_event=event_id,
                log_event=logged,
            )

    async def _segment(self, conn: psycopg.AsyncConnection[Any], nc: Client, after: int, last_id: str | None) -> None:
        """Publish from `after` until an error; the reader runs one batch ahead."""
        window = max(1, self.settings.relay_window)
        chunk = max(1, min(256, window // 4))
        pipeline = Publisher(nc, window, self.ack_timeout)
        await pipeline.start()
        self._pipeline = pipeline
        queue: asyncio.Queue[list[EventEnvelope]] = asyncio.Queue(maxsize=2)
        reader = asyncio.create_task(self._read(conn, after, queue), name="relay-read")
        build = self._messages.build if self._messages else None
        assert build is not None
        prev_id = last_id
        try:
            while True:
                events = await self._next_batch(queue, reader, pipeline)
                for i, env in enumerate(events):
                    if i % chunk == 0:
                        await pipeline.wait_below(window - min(chunk, len(events) - i) + 1)
                    event_id = str(env.event_id)
                    subject, headers, body = build(env, event_id, prev_id)
                    await pipeline.publish(subject, body, headers, env.position)
                    prev_id = event_id
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
            self._position = self.position
            self._published = self.published
            self._pipeline = None
            await pipeline.close()

    async def _next_batch(
        self, queue: asyncio.Queue[list[EventEnvelope]], reader: asyncio.Task[None], pipeline: Publisher
    ) -> list[EventEnvelope]:
        while True:
            if reader.done():
                reader.result()  # raises the reader's error (Postgres trouble ends the session)
                raise RuntimeError("relay reader stopped")
            pipeline.check()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.25):
                    return await queue.get()

    async def _read(
        self, conn: psycopg.AsyncConnection[Any], after: int, queue: asyncio.Queue[list[EventEnvelope]]
    ) -> None:
        """Read the log from `after` in batches, checking positions are contiguous. The log
        reader returns only events on disk (its durability barrier): nothing published can be
        taken back by a crash of the database."""
        limit = max(1, self.settings.relay_batch)
        gap_since: float | None = None
        checkpointed_at = time.monotonic()
        log_reader = LogReader(conn)
        while True:
            self._wakeup.clear()
            rows = await log_reader.read(after, limit)
            if rows:
                first, last = rows[0].position, rows[-1].position
                if first != after + 1 or last - first != len(rows) - 1:
                    rows = self._contiguous(rows, after)
                    if not rows:
                        gap_since = gap_since or time.monotonic()
                        if time.monotonic() - gap_since < _GAP_GRACE_SECONDS:
                            await asyncio.sleep(0.05)
                            continue
                        log.error("relay.gap_skipped", stream=self.name, after=after, next=first)
                        after = first - 1
                        continue
                gap_since = None
                after = rows[-1].position
                self.head = max(self.head, after)
                await queue.put(rows)
            if time.monotonic() - checkpointed_at >= _CHECKPOINT_SECONDS:
                await self._checkpoint(conn)
                checkpointed_at = time.monotonic()
            if len(rows) < limit:  # caught up: wait for a commit
                try:
                    async with asyncio.timeout(self.settings.relay_poll_seconds):
                        await self._wakeup.wait()
                except TimeoutError:  # quiet: record progress, look at the head
                    await self._checkpoint(conn)
                    await self._refresh(conn)

    @staticmethod
    def _contiguous(rows: Sequence[EventEnvelope], after: int) -> list[EventEnvelope]:
        out: list[EventEnvelope] = []
        for env in rows:
            if env.position != after + 1:
                break
            out.append(env)
            after = env.position
        return out

    # -- bookkeeping -------------------------------------------------------------------------

    async def _checkpoint(self, conn: psycopg.AsyncConnection[Any]) -> None:
        position = self.position
        if position != self._checkpointed and position > 0:
            await conn.execute(_CHECKPOINT, [self.name, position])
            self._checkpointed = position

    async def _read_checkpoint(self, conn: psycopg.AsyncConnection[Any]) -> int:
        cur = await conn.execute("SELECT position FROM cw_relay_checkpoint WHERE name = %s", [self.name])
        row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def _refresh(self, conn: psycopg.AsyncConnection[Any], checkpoint: bool = False) -> None:
        """Update `head` (and, for a standby, `position` from the checkpoint) for lag()."""
        self.head = await LogReader(conn).head()
        if checkpoint:
            self._position = await self._read_checkpoint(conn)
