"""The PostgreSQL side of projections: schemas, checkpoints, dead letters, swaps."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from infra.eventlog import EventEnvelope
from projections.model import Projection

NOTIFY_CHANNEL = "cw_projections"

CHECKPOINT_DDL = (
    "CREATE TABLE checkpoint (id smallint PRIMARY KEY CHECK (id = 1), position bigint NOT NULL,"
    " version integer NOT NULL, epoch text NOT NULL, event_at timestamptz,"
    " updated_at timestamptz NOT NULL DEFAULT now())"
)


@dataclass(frozen=True)
class Checkpoint:
    position: int
    version: int
    epoch: str
    event_at: datetime | None


async def connect(dsn: str, application_name: str) -> psycopg.AsyncConnection[Any]:
    """A connection of its own for a projector (it holds transactions and advisory locks)."""
    return await psycopg.AsyncConnection.connect(
        dsn, autocommit=True, application_name=application_name[:63], options="-c TimeZone=UTC"
    )


def lock_sql() -> str:
    # One writer per schema at a time: the live projector, a replay, or a rebuild's swap.
    return "SELECT pg_advisory_xact_lock(hashtext('cw_projection:' || %s))"


async def read_checkpoint(conn: psycopg.AsyncConnection[Any], schema: str) -> Checkpoint | None:
    try:
        async with conn.transaction():
            cur = await conn.execute(
                sql.SQL("SELECT position, version, epoch, event_at FROM {}.checkpoint").format(sql.Identifier(schema))
            )
            row = await cur.fetchone()
    except psycopg.errors.UndefinedTable:
        return None
    return Checkpoint(*row) if row else None


async def create_schema(
    conn: psycopg.AsyncConnection[Any],
    projection: type[Projection],
    schema: str,
    *,
    indexes: bool = True,
) -> str:
    """(Re)create `schema` with the projection's empty tables and a checkpoint at 0; its epoch.

    Without `indexes` only primary keys are made (a bulk load is faster; `create_indexes` after).
    """
    epoch = secrets.token_hex(8)
    ident = sql.Identifier(schema)
    async with conn.transaction():
        await conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(ident))
        await conn.execute(sql.SQL("CREATE SCHEMA {}").format(ident))
        await conn.execute("SELECT set_config('search_path', %s, true)", [schema])
        await conn.execute(CHECKPOINT_DDL)
        for stmt in projection.ddl():
            await conn.execute(stmt)
        if indexes:
            for stmt in projection.index_ddl():
                await conn.execute(stmt)
        await conn.execute(
            "INSERT INTO checkpoint (id, position, version, epoch) VALUES (1, 0, %s, %s)",
            [projection.version, epoch],
        )
    return epoch


async def create_indexes(conn: psycopg.AsyncConnection[Any], projection: type[Projection], schema: str) -> None:
    async with conn.transaction():
        await conn.execute("SELECT set_config('search_path', %s, true)", [schema])
        for stmt in projection.index_ddl():
            await conn.execute(stmt)


async def ensure_schema(conn: psycopg.AsyncConnection[Any], projection: type[Projection]) -> bool:
    """Create the live schema if missing; False when it exists with another version."""
    schema = projection.schema()
    async with conn.transaction():
        await conn.execute(lock_sql(), [schema])
        found = await read_checkpoint(conn, schema)
        if found is None:
            await create_schema(conn, projection, schema)
            return True
    return found.version == projection.version


async def park(conn: psycopg.AsyncConnection[Any], projection: str, env: EventEnvelope, error: str) -> None:
    """Record an event the projection could not apply (kept until replayed)."""
    await conn.execute(
        "INSERT INTO cw_projection_dead_letters (projection, position, event_id, event_type, error)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (projection, position)"
        " DO UPDATE SET error = EXCLUDED.error, attempts = cw_projection_dead_letters.attempts + 1,"
        " replayed_at = NULL",
        [projection, env.position, env.event_id, env.event_type, error[:4000]],
    )


async def swap(conn: psycopg.AsyncConnection[Any], shadow: str, live: str) -> None:
    """Replace the live schema by the shadow one (inside the caller's transaction)."""
    await conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(live)))
    await conn.execute(sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(sql.Identifier(shadow), sql.Identifier(live)))
