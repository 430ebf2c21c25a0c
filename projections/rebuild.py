"""Rebuild a projection from position 0 of the log into a fresh schema, then swap it in.

The live projector goes on serving and applying events meanwhile. The swap takes the live
schema's writer lock, applies what was appended since the rebuild last read the log, and
replaces the live schema by the rebuilt one in the same transaction, so nothing is lost and
the live projector continues from the rebuilt checkpoint.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable

from infra.eventlog.reader import LogReader
from infra.gcpolicy import collector_paused
from infra.logging import get_logger
from projections.applier import Applier
from projections.model import Projection
from projections.store import NOTIFY_CHANNEL, connect, create_indexes, create_schema, lock_sql, swap

log = get_logger(__name__)

Progress = Callable[[int, int], None]  # (position reached, log head)
BATCH = 20_000  # events per transaction: rows changed many times are written once


async def rebuild(
    dsn: str,
    projection: type[Projection],
    *,
    progress: Progress | None = None,
    target: str | None = None,
    on_commit: Callable[[set[str]], None] | None = None,
) -> int:
    """Rebuild `projection`; returns the position the rebuilt schema reached.

    Without `target` the result replaces the live schema; with it, the rebuilt tables stay in
    that schema (to compare, or to inspect) and the live schema is untouched.
    """
    live = projection.schema()
    shadow = target or f"{live}__rebuild"
    conn = await connect(dsn, f"cw-rebuild:{projection.name}")
    reader = await connect(dsn, f"cw-rebuild-read:{projection.name}")
    # The rebuilt tables are written to this database: no durability barrier needed.
    log_reader = LogReader(reader, barrier=False)
    heads = LogReader(conn, barrier=False)
    try:
        epoch = await create_schema(conn, projection, shadow, indexes=False)
        instance = projection()
        instance.side_effects = False
        instance.start_empty()  # rows it has not written do not exist: no reads
        applier = Applier(instance, conn, shadow, notify=False, seen=(0, epoch))
        head = await heads.head()
        if progress:
            progress(0, head)
        # The next batch is read on a second connection while this one is applied and written.
        ahead = asyncio.create_task(log_reader.read(0, BATCH))
        while True:
            events = await ahead
            if not events:
                head = await heads.head()  # traffic went on meanwhile: catch up again
                if applier.position >= head:
                    break
                ahead = asyncio.create_task(log_reader.read(applier.position, BATCH))
                continue
            ahead = asyncio.create_task(log_reader.read(events[-1].position, BATCH))
            with collector_paused():
                out = await applier.apply(events)
            if progress:
                progress(out.position, max(head, out.position))
        await create_indexes(conn, projection, shadow)
        if target is not None:
            return applier.position
        touched: set[str] = set()
        async with conn.transaction():
            await conn.execute(lock_sql(), [live])  # the live projector waits from here on
            while True:
                out = await applier.apply([], fill_to=2**62, limit=BATCH)
                touched |= out.touched
                if out.position >= await heads.head():
                    break
            await swap(conn, shadow, live)
            await conn.execute(
                "SELECT pg_notify(%s, %s)",
                [NOTIFY_CHANNEL, f"{projection.name}:{applier.position}"],
            )
        log.info("projection.rebuilt", projection=projection.name, position=applier.position)
        if on_commit is not None:
            on_commit(touched | {"*"})
        return applier.position
    finally:
        gc.unfreeze()  # what the batches froze goes back to the collector, garbage cycles included
        await reader.close()
        await conn.close()
