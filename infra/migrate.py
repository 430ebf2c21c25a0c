"""Apply the numbered SQL migrations in infra/migrations, once each, under an advisory lock."""

from __future__ import annotations

from importlib import resources

import psycopg

_LOCK = 7_260_001  # advisory lock key: one migrator at a time


def migration_files() -> list[tuple[int, str, str]]:
    """(number, name, sql) of every migration shipped with the package, in order."""
    found = []
    for entry in resources.files("infra.migrations").iterdir():
        if entry.name.endswith(".sql"):
            number = int(entry.name.split("_", 1)[0])
            found.append((number, entry.name, entry.read_text()))
    return sorted(found)


async def migrate(dsn: str) -> list[str]:
    """Apply pending migrations; returns the names applied."""
    applied: list[str] = []
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute("SELECT pg_advisory_lock(%s)", [_LOCK])
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS cw_migrations (number integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            cur = await conn.execute("SELECT number FROM cw_migrations")
            done = {row[0] for row in await cur.fetchall()}
            for number, name, sql in migration_files():
                if number in done:
                    continue
                async with conn.transaction():
                    await conn.execute(sql.encode())
                    await conn.execute("INSERT INTO cw_migrations (number, name) VALUES (%s, %s)", [number, name])
                applied.append(name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", [_LOCK])
    return applied


async def ensure_database(dsn: str) -> bool:
    """Create the database named in `dsn` if it does not exist; True when it was created."""
    info = psycopg.conninfo.conninfo_to_dict(dsn)
    name = str(info.get("dbname") or "postgres")
    admin = psycopg.conninfo.make_conninfo(dsn, dbname="postgres")
    async with await psycopg.AsyncConnection.connect(admin, autocommit=True) as conn:
        cur = await conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if await cur.fetchone():
            return False
        await conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
        return True


def with_database(dsn: str, name: str) -> str:
    """The same server and credentials, another database."""
    return psycopg.conninfo.make_conninfo(dsn, dbname=name)


async def drop_database(dsn: str) -> None:
    """Drop the database named in `dsn` (a scratch one), ending its sessions first."""
    name = str(psycopg.conninfo.conninfo_to_dict(dsn).get("dbname") or "")
    admin = psycopg.conninfo.make_conninfo(dsn, dbname="postgres")
    async with await psycopg.AsyncConnection.connect(admin, autocommit=True) as conn:
        await conn.execute(
            psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(psycopg.sql.Identifier(name))
        )
