"""Replay parked events once the cause is fixed: each in its own transaction, in log order."""

from __future__ import annotations

import secrets
import traceback

from psycopg import sql

from infra.eventlog.reader import LogReader
from infra.logging import get_logger
from projections.model import Projection
from projections.store import connect, lock_sql

log = get_logger(__name__)


async def replay_dead_letters(dsn: str, projection: type[Projection]) -> tuple[int, int]:
    """Apply the projection's parked events again; (replayed, still failing)."""
    conn = await connect(dsn, f"cw-replay:{projection.name}")
    instance = projection()
    schema = projection.schema()
    replayed = failing = 0
    try:
        cur = await conn.execute(
            "SELECT position FROM cw_projection_dead_letters"
            " WHERE projection = %s AND replayed_at IS NULL ORDER BY position",
            [projection.name],
        )
        parked = await LogReader(conn).at([r[0] for r in await cur.fetchall()])
        for env in parked:
            instance.forget()
            try:
                async with conn.transaction():
                    await conn.execute(lock_sql(), [schema])
                    await conn.execute("SELECT set_config('search_path', %s, true)", [f'"{schema}", public'])
                    instance.conn = conn
                    await instance.apply(env)
                    await instance.flush(conn)
                    await conn.execute(
                        "UPDATE cw_projection_dead_letters SET replayed_at = now()"
                        " WHERE projection = %s AND position = %s",
                        [projection.name, env.position],
                    )
                    # A new epoch tells the live projector its cached rows are stale.
                    await conn.execute(
                        sql.SQL("UPDATE {}.checkpoint SET epoch = %s, updated_at = now()").format(
                            sql.Identifier(schema)
                        ),
                        [secrets.token_hex(8)],
                    )
                replayed += 1
            except Exception as e:
                failing += 1
                error = "".join(traceback.format_exception_only(e)).strip()
                await conn.execute(
                    "UPDATE cw_projection_dead_letters SET error = %s, attempts = attempts + 1"
                    " WHERE projection = %s AND position = %s",
                    [error[:4000], projection.name, env.position],
                )
                log.warning(
                    "projection.replay_failed",
                    projection=projection.name,
                    position=env.position,
                    error=error,
                )
    finally:
        await conn.close()
    return replayed, failing
