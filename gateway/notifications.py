"""The live notification stream's hub: one per gateway process.

It follows the read models' commits (PostgreSQL LISTEN on the projectors' channel, with a poll
as a safety net) and, when the `notifications` projection moved on, reads the new notifications
of the users connected to this process in one query and hands each to their streams. A stream
first registers, then reads its backlog after its Last-Event-ID, then takes what the hub hands
it, skipping positions it has sent: nothing is missed and nothing is sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from uuid import UUID

import psycopg

from infra.backoff import Backoff
from infra.errors import Unavailable
from infra.logging import get_logger
from projections.queries import notifications as nq
from projections.queries.reader import Reader
from projections.store import NOTIFY_CHANNEL
from schemas.notifications import Notification

log = get_logger(__name__)
PROJECTION = "notifications"


class NotificationHub:
    def __init__(self, dsn: str, reader: Reader, *, poll_seconds: float = 5.0) -> None:
        self.dsn = dsn
        self.reader = reader
        self.poll_seconds = poll_seconds
        self.streams: dict[UUID, set[asyncio.Queue[Notification]]] = {}
        self.after = -1  # notifications up to this position were handed out (-1: not started)
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._ready = asyncio.Event()  # `after` is known: streams may register

    @contextlib.asynccontextmanager
    async def subscribe(self, user_id: UUID) -> AsyncIterator[asyncio.Queue[Notification]]:
        """A queue of `user_id`'s notifications committed from now on, while the block runs; what
        committed before is the caller's to read (after entering the block)."""
        self._start()
        try:
            async with asyncio.timeout(self.poll_seconds * 2):
                await self._ready.wait()
        except TimeoutError:
            raise Unavailable("postgres", "the notification stream cannot follow the read model") from None
        queue: asyncio.Queue[Notification] = asyncio.Queue()
        self.streams.setdefault(user_id, set()).add(queue)
        try:
            yield queue
        finally:
            queues = self.streams.get(user_id)
            if queues is not None:
                queues.discard(queue)
                if not queues:
                    del self.streams[user_id]

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="notification-hub")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        pump = asyncio.create_task(self._pump())
        try:
            await self._listen()
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump

    async def _listen(self) -> None:
        backoff = Backoff(initial=0.5, maximum=10.0)
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.dsn, autocommit=True, application_name="cw-notification-hub"
                ) as conn:
                    await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    backoff.reset()
                    self._wake.set()  # what committed before we listened
                    async for note in conn.notifies():
                        if note.payload.startswith(f"{PROJECTION}:"):
                            self._wake.set()
            except psycopg.OperationalError as e:
                log.warning("notifications.listen_failed", error=str(e))
                await backoff.sleep()

    async def _pump(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_seconds):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self._hand_out()
            except Exception as e:  # the database is away: the next wake or poll tries again
                log.warning("notifications.read_failed", error=repr(e))

    async def _hand_out(self) -> None:
        async with self.reader.connection() as conn:
            reached = await self.reader.checkpoint(conn, PROJECTION)
        if self.after < 0:
            self.after = reached  # streams registered from now on read what is older themselves
            self._ready.set()
            return
        if reached > self.after and self.streams:
            for user_id, notification in await nq.newer(self.reader, list(self.streams), self.after, reached):
                for queue in self.streams.get(user_id, ()):
                    queue.put_nowait(notification)
        self.after = max(self.after, reached)
