"""How far behind each projection is, read from the database (for /ready and /health)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from psycopg import sql

from infra.eventlog.reader import LogReader
from projections.registry import PROJECTIONS


class ProjectionLag(msgspec.Struct, kw_only=True):
    projection: str
    position: int  # checkpoint; -1 when the projection has no schema yet
    head: int
    events: int  # head - position
    seconds: float  # age of the oldest event not applied yet, 0 when caught up
    dead_letters: int  # parked events not replayed yet


async def projection_lag(pool: Any) -> list[ProjectionLag]:
    """Lag of every projection; `pool` is a psycopg_pool.AsyncConnectionPool."""
    out = []
    async with pool.connection() as conn:
        event_log = LogReader(conn)
        head = await event_log.head()
        cur = await conn.execute(
            "SELECT projection, count(*) FROM cw_projection_dead_letters WHERE replayed_at IS NULL GROUP BY projection"
        )
        parked = dict(await cur.fetchall())
        cur = await conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)",
            [[p.schema() for p in PROJECTIONS.values()]],
        )
        existing = {r[0] for r in await cur.fetchall()}
        for name, projection in PROJECTIONS.items():
            position = -1
            if projection.schema() in existing:
                cur = await conn.execute(
                    sql.SQL("SELECT position FROM {}.checkpoint").format(sql.Identifier(projection.schema()))
                )
                found = await cur.fetchone()
                position = int(found[0]) if found else -1
            seconds = 0.0
            if position < head:
                at = await event_log.recorded_at(max(position, 0) + 1)
                if at is not None:
                    seconds = max(0.0, (datetime.now(UTC) - at).total_seconds())
            out.append(
                ProjectionLag(
                    projection=name,
                    position=position,
                    head=head,
                    events=max(0, head - max(position, 0)),
                    seconds=round(seconds, 3),
                    dead_letters=int(parked.get(name, 0)),
                )
            )
    return out
