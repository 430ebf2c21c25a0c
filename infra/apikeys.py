"""Organisations' API keys: stored hashed in PostgreSQL, followed by every process in memory.

A key is `cwk_<key id, 32 hex>_<secret, 43 url-safe characters>`: 256 random bits, shown once
when it is created. Only the SHA-256 of the secret is stored (`cw_api_keys`, migration 055): the
secret is random, so a slow password hash would add nothing but time to every request; its last
four characters are kept as a hint. A machine client sends it as `Authorization: Bearer <key>`.

Keys are checked on every request, so each process holds the rows in memory, as it holds the
ended sign-ins: it reads them before it serves (`load`) and follows them (`follow`, LISTEN
`cw_api_keys` and a read every few seconds of what committed since). A revocation is one UPDATE
that NOTIFYs, so every process refuses the key within moments, and durably: PostgreSQL is the
only record. A key this process has not seen yet (made a moment ago elsewhere) is read once.
No key, secret or digest is ever logged.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import psycopg
from psycopg_pool import AsyncConnectionPool

from infra.availability import Availability
from infra.errors import Unavailable
from infra.following import Followed
from infra.tokens import InvalidToken
from schemas.apikeys import ApiKeyView, KeyRevoked, NewApiKey

PREFIX = "cwk_"
CHANNEL = "cw_api_keys"
LISTENER = "cw-api-keys"  # application_name of the listening connections
HELD_AFTER_EXPIRY = 7 * 86400.0  # an expired key stays held this long, to be refused by name
_COLUMNS = (
    "id, org_id, name, role, hint, created_by, created_at, expires_at, revoked_at,"
    " secret_sha256, extract(epoch FROM expires_at)"
)


class ApiKeyRefused(InvalidToken):
    """The key is malformed, unknown, or its secret is wrong."""

    code = "invalid_api_key"


class ApiKeyRevoked(ApiKeyRefused):
    code = "api_key_revoked"


class ApiKeyExpired(ApiKeyRefused):
    code = "api_key_expired"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a valid key speaks for: the organisation, with the key's one role."""

    key_id: UUID
    org_id: UUID
    role: str
    name: str


@dataclass(frozen=True, slots=True)
class _Held:
    principal: Principal
    digest: bytes
    expires_at: float  # epoch seconds
    revoked: bool


def is_api_key(token: str) -> bool:
    return token.startswith(PREFIX)


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def _parse(token: str) -> tuple[UUID, str]:
    hex_id, sep, secret = token.removeprefix(PREFIX).partition("_")
    try:
        if not sep or len(hex_id) != 32 or len(secret) < 32:
            raise ValueError
        return UUID(hex=hex_id), secret
    except ValueError:
        raise ApiKeyRefused("the API key is malformed") from None


def _status(revoked_at: datetime | None, expires_at: datetime, now: datetime) -> Any:
    return "revoked" if revoked_at is not None else "expired" if expires_at <= now else "active"


def _view(row: tuple[Any, ...], now: datetime) -> ApiKeyView:
    key_id, org_id, name, role, hint, created_by, created_at, expires_at, revoked_at = row[:9]
    return ApiKeyView(
        key_id=key_id,
        org_id=org_id,
        name=name,
        role=role,
        hint=hint,
        created_by=created_by,
        created_at=created_at,
        expires_at=expires_at,
        revoked_at=revoked_at,
        status=_status(revoked_at, expires_at, now),
    )


class ApiKeys(Followed):
    """The organisations' API keys: created, listed and revoked in PostgreSQL, checked in memory."""

    channel, listener, during = CHANNEL, LISTENER, "api keys"

    def __init__(self, pool: AsyncConnectionPool, dsn: str, postgres: Availability) -> None:
        super().__init__(dsn, postgres)
        self._pool = pool
        self._held: dict[UUID, _Held] = {}

    # -- checking ----------------------------------------------------------------------------

    async def verify(self, token: str) -> Principal:
        """Who the key speaks for; ApiKeyRefused (or Revoked, Expired) when it may not."""
        key_id, secret = _parse(token)
        if not self.loaded:
            await self.load()
        held = self._held.get(key_id)
        if held is None:
            held = await self._fetch(key_id)
        # The secret first: a wrong secret learns nothing of the key's state.
        if held is None or not hmac.compare_digest(held.digest, _digest(secret)):
            raise ApiKeyRefused("the API key is not valid")
        if held.revoked:
            raise ApiKeyRevoked("the API key was revoked")
        if held.expires_at <= time.time():
            expired = datetime.fromtimestamp(held.expires_at, UTC).isoformat(timespec="seconds")
            raise ApiKeyExpired(f"the API key expired at {expired}")
        return held.principal

    # -- managing ----------------------------------------------------------------------------

    async def create(self, org_id: UUID, name: str, role: str, expires_at: datetime, created_by: UUID) -> NewApiKey:
        """A new key; its secret is in the answer and nowhere else."""
        key_id, secret = uuid4(), secrets.token_urlsafe(32)
        rows = await self._write(
            f"INSERT INTO cw_api_keys (id, org_id, name, role, secret_sha256, hint, created_by, expires_at)"
            f" VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING {_COLUMNS}",
            [key_id, org_id, name, role, _digest(secret), secret[-4:], created_by, expires_at],
        )
        self._hold(rows[0])
        view = _view(rows[0], datetime.now(UTC))
        return NewApiKey(**{f: getattr(view, f) for f in view.__struct_fields__}, key=f"{PREFIX}{key_id.hex}_{secret}")

    async def listed(self, org_id: UUID, *, include_revoked: bool = False) -> list[ApiKeyView]:
        rows = await self._query(
            f"SELECT {_COLUMNS} FROM cw_api_keys WHERE org_id = %s AND (%s OR revoked_at IS NULL)"
            " ORDER BY created_at DESC, id",
            [org_id, include_revoked],
        )
        now = datetime.now(UTC)
        return [_view(row, now) for row in rows]

    async def get(self, org_id: UUID, key_id: UUID) -> ApiKeyView | None:
        rows = await self._query(f"SELECT {_COLUMNS} FROM cw_api_keys WHERE id = %s AND org_id = %s", [key_id, org_id])
        return _view(rows[0], datetime.now(UTC)) if rows else None

    async def revoke(self, org_id: UUID, key_id: UUID, revoked_by: UUID) -> KeyRevoked | None:
        """Revoke the key (again: nothing changes); None when the organisation has no such key."""
        rows = await self._write(
            "UPDATE cw_api_keys SET revoked_at = coalesce(revoked_at, now()),"
            " revoked_by = coalesce(revoked_by, %s), xid = pg_current_xact_id()"
            f" WHERE id = %s AND org_id = %s RETURNING {_COLUMNS}",
            [revoked_by, key_id, org_id],
        )
        if not rows:
            return None
        self._hold(rows[0])
        return KeyRevoked(key_id=key_id, revoked_at=rows[0][8])

    # -- following ---------------------------------------------------------------------------

    async def load(self) -> None:
        """Read every key changed since the last read (all of them the first time)."""
        try:
            async with self._pool.connection() as conn:
                await self._read(conn)
        except psycopg.OperationalError as e:
            raise Unavailable("postgres", str(e)) from e

    async def _read(self, conn: psycopg.AsyncConnection[Any]) -> None:
        # One statement, so the fence is the xmin of the very snapshot the rows were read in.
        cur = await conn.execute(
            f"SELECT pg_snapshot_xmin(pg_current_snapshot())::text, {_COLUMNS}"
            " FROM (SELECT) AS here LEFT JOIN cw_api_keys AS k"
            " ON k.xid >= %s::text::xid8 AND k.expires_at > now() - make_interval(secs => %s)",
            [str(self._fence), HELD_AFTER_EXPIRY],
        )
        rows = await cur.fetchall()
        for row in rows:
            if row[1] is not None:
                self._hold(row[1:])
        self._fence = int(rows[0][0])
        self.loaded = True
        horizon = time.time() - HELD_AFTER_EXPIRY
        for key_id in [k for k, held in self._held.items() if held.expires_at < horizon]:
            del self._held[key_id]

    def _hold(self, row: tuple[Any, ...]) -> _Held:
        key_id, org_id, name, role = row[:4]
        held = _Held(Principal(key_id, org_id, role, name), bytes(row[9]), float(row[10]), row[8] is not None)
        self._held[key_id] = held
        if held.revoked:
            self._ended(key_id)
        return held

    def has_ended(self, key: UUID) -> bool:
        """True when this process knows the key was revoked (no I/O)."""
        held = self._held.get(key)
        return held is not None and held.revoked

    async def _fetch(self, key_id: UUID) -> _Held | None:
        rows = await self._query(f"SELECT {_COLUMNS} FROM cw_api_keys WHERE id = %s", [key_id])
        return self._hold(rows[0]) if rows else None

    async def _query(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        try:
            async with self._pool.connection() as conn:
                cur = await conn.execute(sql, params)
                return await cur.fetchall()
        except psycopg.OperationalError as e:
            raise Unavailable("postgres", str(e)) from e

    async def _write(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        """One change and its notification, in one transaction."""
        try:
            async with self._pool.connection() as conn, conn.transaction():
                cur = await conn.execute(sql, params)
                rows = await cur.fetchall()
                await conn.execute(f"NOTIFY {CHANNEL}")
                return rows
        except psycopg.OperationalError as e:
            raise Unavailable("postgres", str(e)) from e
