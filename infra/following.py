"""Following a PostgreSQL table in memory: LISTEN for its channel, and read what committed since
the last read on every notification and every few seconds in any case (a notification sent while
the listening connection was down is never delivered). Used by the ended sign-ins
(`infra/revocations.py`) and the organisations' API keys (`infra/apikeys.py`), whose every check
is then a lookup in this process's copy.

The reads are fenced by transaction ids: a followed table has an `xid xid8` column set to
`pg_current_xact_id()` by every write, and a reader remembers the xmin of its last snapshot, so
its next read asks only for rows from there on without missing one that committed late.

What is followed are credentials (a sign-in, an API key) that may end: an answer that lasts (the
notification stream) watches its credential (`watching`) and ends when it does, whichever process
ended it.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from uuid import UUID

import psycopg

from infra.availability import Availability

Read = Callable[[psycopg.AsyncConnection[Any]], Awaitable[None]]


async def follow(
    dsn: str,
    channel: str,
    listener: str,
    read: Read,
    postgres: Availability,
    *,
    during: str,
    poll_seconds: float = 5.0,
    retry_seconds: float = 1.0,
) -> None:
    """Call `read` on a listening connection at every notification on `channel` and at least
    every `poll_seconds`, until cancelled; reconnect after `retry_seconds` when it fails."""
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(
                dsn, autocommit=True, connect_timeout=5, application_name=listener
            ) as conn:
                await conn.execute(f"LISTEN {channel}")
                while True:
                    await read(conn)  # listening first: a change is in this read or wakes the next
                    postgres.answered()
                    async for _ in conn.notifies(timeout=poll_seconds, stop_after=1):
                        pass
        except (psycopg.Error, OSError) as e:
            postgres.failed(e, during=during)
        await asyncio.sleep(retry_seconds)


class Followed(abc.ABC):
    """A table's rows held in this process: `load` before serving, then `follow` until cancelled."""

    channel: str  # NOTIFY channel of the table's writes
    listener: str  # application_name of the listening connections
    during: str  # what an outage is reported as

    def __init__(self, dsn: str, postgres: Availability) -> None:
        self._dsn = dsn  # of the listening connection, which lives outside any pool
        self._postgres = postgres
        self._fence = 0  # xmin of the last read's snapshot
        self.loaded = False  # every change committed before the first read is held
        self._watchers: dict[UUID, set[asyncio.Event]] = {}  # key -> the events set when it ends

    @abc.abstractmethod
    async def _read(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Read the rows changed since the last read (from `self._fence` on)."""

    @abc.abstractmethod
    def has_ended(self, key: UUID) -> bool:
        """True when the credential `key` names has ended, as this process knows (no I/O)."""

    @contextlib.contextmanager
    def watching(self, key: UUID) -> Iterator[asyncio.Event]:
        """An event set once `key` ends (at once if it has), for the block's span: what an answer
        that lasts waits on, to end with the credential that opened it."""
        ended = asyncio.Event()
        watchers = self._watchers.setdefault(key, set())
        watchers.add(ended)
        if self.has_ended(key):
            ended.set()
        try:
            yield ended
        finally:
            watchers.discard(ended)
            if not watchers and self._watchers.get(key) is watchers:
                del self._watchers[key]

    def _ended(self, key: UUID) -> None:
        """`key` has ended (here or in a row just read): wake whatever watches it."""
        for ended in self._watchers.get(key, ()):
            ended.set()

    async def follow(self, poll_seconds: float = 5.0, retry_seconds: float = 1.0) -> None:
        """Keep this process's copy current until cancelled."""
        await follow(
            self._dsn,
            self.channel,
            self.listener,
            self._read,
            self._postgres,
            during=self.during,
            poll_seconds=poll_seconds,
            retry_seconds=retry_seconds,
        )
