"""Applies events to one projection's schema exactly once: rows and checkpoint in one transaction.

Used by the live projector (events from JetStream, gaps filled from the log) and by rebuilds
(events straight from the log). A batch first runs on the fast path: every event folded in
memory, one bulk write. If anything in it fails, the batch is rolled back and replayed one
event per savepoint, so the one event that cannot be applied is parked and the rest go on.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from infra.eventlog import EventEnvelope
from infra.eventlog.reader import LogReader
from infra.logging import get_logger
from projections import metrics
from projections.model import Projection
from projections.store import NOTIFY_CHANNEL, lock_sql, park

log = get_logger(__name__)

MAX_GAP = 20_000  # events fetched from the log to fill one gap inside one transaction


@dataclass
class Outcome:
    """What one transaction did."""

    position: int  # the checkpoint after it
    applied: int = 0
    duplicates: int = 0
    filled: int = 0  # events taken from the log because JetStream did not bring them
    parked: list[tuple[EventEnvelope, str]] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)
    event_at: datetime | None = None


class Applier:
    def __init__(
        self,
        projection: Projection,
        conn: psycopg.AsyncConnection[Any],
        schema: str,
        *,
        notify: bool = True,
        on_commit: Callable[[Outcome], None] | None = None,
        seen: tuple[int, str] | None = None,
    ) -> None:
        """`seen`: the (position, epoch) the projection's cached rows already match."""
        self.projection = projection
        self.conn = conn
        self.schema = schema
        self.notify = notify
        self.on_commit = on_commit
        self.position = 0  # last checkpoint this applier committed or saw
        # Gaps are filled inside the transaction that writes the read model to this database:
        # no durability barrier is needed (see infra.eventlog.reader).
        self._log = LogReader(conn, barrier=False)
        self._seen = seen  # (position, epoch) the row cache matches

        ident = sql.Identifier(schema)
        self._read_cp = sql.SQL("SELECT position, epoch FROM {}.checkpoint").format(ident)
        self._write_cp = sql.SQL(
            "UPDATE {}.checkpoint SET position = %s, event_at = coalesce(%s, event_at), updated_at = now()"
        ).format(ident)

    @property
    def started(self) -> bool:
        """True once a transaction read the checkpoint: `position` is known."""
        return self._seen is not None

    async def apply(self, events: Sequence[EventEnvelope], *, fill_to: int | None = None, limit: int = 5000) -> Outcome:
        """Apply `events` (any order, duplicates allowed), filling gaps from the log.

        With `fill_to`, also apply logged events up to that position (at most `limit` of them).
        """
        try:
            return await self._transaction(events, fill_to, limit, isolate=False)
        except psycopg.OperationalError:
            self.projection.forget()
            raise
        except Exception as e:  # one event (or its write) failed: find it, park it
            log.warning("projection.batch_failed", projection=self.projection.name, error=repr(e))
            self.projection.forget()
            return await self._transaction(events, fill_to, limit, isolate=True)

    async def _transaction(
        self, events: Sequence[EventEnvelope], fill_to: int | None, limit: int, *, isolate: bool
    ) -> Outcome:
        conn, proj = self.conn, self.projection
        started = time.perf_counter()
        async with conn.transaction():
            async with conn.pipeline():
                await conn.execute(lock_sql(), [self.schema])
                await conn.execute("SELECT set_config('search_path', %s, true)", [f'"{self.schema}", public'])
                # Read models are derived: if a crash loses the last commits, it loses their
                # checkpoint with them and the events are applied again. No fsync to wait for.
                await conn.execute("SET LOCAL synchronous_commit TO off")
                cur = await conn.execute(self._read_cp)
            row = await cur.fetchone()
            assert row is not None, f"{self.schema}.checkpoint is empty"
            start, epoch = int(row[0]), str(row[1])
            if self._seen != (start, epoch):
                proj.forget()  # another writer moved the checkpoint: cached rows may be stale
            todo, out = await self._plan(events, start, fill_to, limit)
            proj.conn = conn
            if not isolate:
                for env in todo:
                    await proj.apply(env)
                await proj.flush(conn)
            else:
                for env in todo:
                    try:
                        async with conn.transaction():
                            await proj.apply(env)
                            await proj.flush(conn)
                    except psycopg.OperationalError:
                        raise
                    except Exception as e:
                        proj.forget()
                        error = "".join(traceback.format_exception_only(e)).strip()
                        await park(conn, proj.name, env, error)
                        out.parked.append((env, error))
            out.applied = len(todo) - len(out.parked)
            if out.position != start:
                async with conn.pipeline():
                    await conn.execute(self._write_cp, [out.position, out.event_at])
                    if self.notify:
                        await conn.execute(
                            "SELECT pg_notify(%s, %s)",
                            [NOTIFY_CHANNEL, f"{proj.name}:{out.position}"],
                        )
        out.touched, proj.touched = proj.touched, set()
        self.position = out.position
        self._seen = (out.position, epoch)
        metrics.record_batch(proj.name, out, time.perf_counter() - started)
        for env, error in out.parked:
            log.error(
                "projection.event_parked",
                projection=proj.name,
                position=env.position,
                event_type=env.event_type,
                error=error,
            )
        if self.on_commit is not None:
            self.on_commit(out)
        return out

    async def _plan(
        self, events: Sequence[EventEnvelope], start: int, fill_to: int | None, limit: int
    ) -> tuple[list[EventEnvelope], Outcome]:
        """The events to apply after checkpoint `start`, in order, with gaps filled."""
        out = Outcome(position=start)
        todo: list[EventEnvelope] = []
        handles = self.projection.handles
        for env in sorted(events, key=lambda e: e.position):
            if env.position <= out.position:
                out.duplicates += 1
                continue
            if env.position > out.position + 1:
                missing = await self._log.read(out.position, MAX_GAP, before=env.position)
                if not missing or missing[-1].position != env.position - 1:
                    break  # a gap too wide for one transaction: the rest comes next time
                out.filled += len(missing)
                todo.extend(m for m in missing if handles(m.event_type))
                out.position, out.event_at = missing[-1].position, missing[-1].occurred_at
            if handles(env.event_type):
                todo.append(env)
            out.position, out.event_at = env.position, env.occurred_at
        if fill_to is not None and fill_to > out.position:
            logged = await self._log.read(out.position, limit, before=fill_to + 1)
            if logged:
                todo.extend(e for e in logged if handles(e.event_type))
                out.position, out.event_at = logged[-1].position, logged[-1].occurred_at
        return todo, out
