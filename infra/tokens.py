"""Tokens of the HTTP API: short-lived JWT access tokens, rotating refresh tokens in
PostgreSQL, and stream tickets (a minute's access to one route, for a URL). Ended sign-ins,
which they are all checked against, are infra.revocations'."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import jwt
import psycopg
from psycopg_pool import AsyncConnectionPool

from infra.errors import InfraError, Unavailable
from infra.logging import get_logger
from infra.revocations import LOCK_FAMILY_SQL
from infra.verified_tokens import VerifiedTokens

log = get_logger(__name__)
ISSUER = "coursewright"


class InvalidToken(InfraError):
    """A token is missing, malformed, tampered with, expired or revoked."""

    code = "invalid_token"


class InvalidCredentials(InvalidToken):
    """Wrong email or password at sign-in (which of the two is not told)."""

    code = "invalid_credentials"


class TokenReused(InvalidToken):
    """A refresh token was presented a second time: its whole family is now revoked."""

    code = "refresh_token_reused"

    def __init__(self, message: str, family: UUID) -> None:
        super().__init__(message)
        self.family = family


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: UUID
    org_id: UUID
    roles: tuple[str, ...]
    email: str
    family: UUID
    expires_at: int


class AccessTokens:
    """HS256 JWTs; only HS256 is accepted, so `none` and RS256 tokens fail verification."""

    def __init__(self, secret: str, ttl: timedelta) -> None:
        if len(secret.encode()) < 32:
            raise ValueError("the JWT secret needs at least 32 bytes")
        self._secret = secret
        self.ttl = ttl
        self._verified: VerifiedTokens[AccessClaims] = VerifiedTokens()

    def issue(self, user_id: UUID, org_id: UUID, roles: Iterable[str], email: str, family: UUID) -> str:
        now = int(time.time())
        claims = _claims(user_id, org_id, roles, email, family, now, now + int(self.ttl.total_seconds()))
        return jwt.encode(claims, self._secret, algorithm="HS256")

    def verify(self, token: str) -> AccessClaims:
        known = self._verified.get(token)
        if known is not None:
            return known
        claims = self._verify(token)
        self._verified.put(token, claims)
        return claims

    def _verify(self, token: str) -> AccessClaims:
        return _decoded(token, self._secret, what="access token")


def _claims(
    user_id: UUID, org_id: UUID, roles: Iterable[str], email: str, family: UUID, now: int, exp: int
) -> dict[str, Any]:
    return {
        "iss": ISSUER,
        "sub": str(user_id),
        "org": str(org_id),
        "roles": sorted(roles),
        "email": email,
        "fam": str(family),
        "iat": now,
        "exp": exp,
        "jti": uuid4().hex,
    }


def _decoded(token: str, key: str, *, what: str, audience: str | None = None) -> AccessClaims:
    """The claims of an HS256 JWT of ours signed with `key` (for `audience`, when given)."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=["HS256"],
            issuer=ISSUER,
            audience=audience,
            options={"require": ["exp", "iat", "sub", "iss", *(["aud"] if audience else [])]},
        )
        return AccessClaims(
            user_id=UUID(claims["sub"]),
            org_id=UUID(claims["org"]),
            roles=tuple(str(r) for r in claims["roles"]),
            email=str(claims["email"]),
            family=UUID(claims["fam"]),
            expires_at=int(claims["exp"]),
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken(f"the {what} has expired") from None
    except (jwt.PyJWTError, KeyError, TypeError, ValueError, AttributeError):
        raise InvalidToken(f"the {what} is invalid") from None


class StreamTickets:
    """Short-lived tickets that open one route, for a client that cannot send an Authorization
    header (a browser's EventSource): the ticket travels in the URL, where it may be logged, so
    it is worth little there. It lasts `ttl` (never past the access token it was made from),
    names its route as its audience, and is signed with a key derived from the JWT secret for
    tickets alone: an access token is no ticket, and a ticket no access token. The sign-in it
    belongs to is checked when it is used (a sign-out ends it)."""

    def __init__(self, secret: str, route: str, ttl: timedelta) -> None:
        self._key = hashlib.sha256(b"coursewright stream ticket\0" + secret.encode()).hexdigest()
        self.route = route
        self.ttl = ttl

    def issue(self, claims: AccessClaims) -> str:
        now = int(time.time())
        exp = min(now + int(self.ttl.total_seconds()), claims.expires_at)
        c = claims
        body = _claims(c.user_id, c.org_id, c.roles, c.email, c.family, now, exp) | {"aud": self.route}
        return jwt.encode(body, self._key, algorithm="HS256")

    def verify(self, ticket: str) -> AccessClaims:
        return _decoded(ticket, self._key, what="stream ticket", audience=self.route)


@dataclass(frozen=True, slots=True)
class RefreshGrant:
    """What a valid refresh token stood for, and the token that replaces it."""

    user_id: UUID
    org_id: UUID
    family: UUID
    token: str


def _split(token: str) -> tuple[UUID, bytes]:
    try:
        head, secret = token.split(".", 1)
        return UUID(hex=head), hashlib.sha256(secret.encode()).digest()
    except ValueError:
        raise InvalidToken("the refresh token is invalid") from None


class RefreshTokens:
    """Refresh tokens: `<id>.<secret>`, only the secret's digest is stored; each works once."""

    def __init__(self, pool: AsyncConnectionPool, ttl: timedelta) -> None:
        self._pool = pool
        self.ttl = ttl

    @staticmethod
    def _new() -> tuple[UUID, str, bytes]:
        token_id, secret = uuid4(), secrets.token_urlsafe(32)
        return token_id, f"{token_id.hex}.{secret}", hashlib.sha256(secret.encode()).digest()

    async def _insert(self, conn: psycopg.AsyncConnection[Any], user_id: UUID, org_id: UUID, family: UUID) -> str:
        token_id, token, digest = self._new()
        await conn.execute(
            "INSERT INTO cw_refresh_tokens (token_id, family, user_id, org_id, digest, expires_at)"
            " VALUES (%s, %s, %s, %s, %s, now() + %s)",
            [token_id, family, user_id, org_id, digest, self.ttl],
        )
        return token

    async def issue(self, user_id: UUID, org_id: UUID) -> tuple[str, UUID]:
        """A token opening a new family (one sign-in); returns (token, family)."""
        family = uuid4()
        try:
            async with self._pool.connection() as conn:
                return await self._insert(conn, user_id, org_id, family), family
        except psycopg.OperationalError as e:
            raise Unavailable("postgres", str(e)) from e

    async def rotate(self, token: str, org_id: UUID | None = None) -> RefreshGrant:
        """Use `token` once: a fresh token of the same family replaces it.

        Presenting a used token again raises TokenReused (someone holds a stolen copy: the
        caller ends the sign-in). `org_id` moves the sign-in to another organisation; the
        caller checks the user may enter it.
        """
        token_id, digest = _split(token)
        try:
            async with self._pool.connection() as conn, conn.transaction():
                # The family's lock first (see infra.revocations): a sign-in ending meanwhile
                # either revokes this token before the update below, or sees its successor.
                cur = await conn.execute(
                    f"SELECT {LOCK_FAMILY_SQL}, family FROM cw_refresh_tokens WHERE token_id = %s AND digest = %s",
                    [token_id, digest],
                )
                if await cur.fetchone() is None:
                    raise InvalidToken("the refresh token is invalid, expired or revoked")
                cur = await conn.execute(
                    "UPDATE cw_refresh_tokens SET used_at = now()"
                    " WHERE token_id = %s AND digest = %s AND used_at IS NULL"
                    " AND revoked_at IS NULL AND expires_at > now()"
                    " RETURNING user_id, org_id, family",
                    [token_id, digest],
                )
                row = await cur.fetchone()
                if row is not None:
                    user_id, old_org, family = row
                    org = org_id or old_org
                    new = await self._insert(conn, user_id, org, family)
                    return RefreshGrant(user_id, org, family, new)
                cur = await conn.execute(
                    "SELECT family, used_at IS NOT NULL FROM cw_refresh_tokens WHERE token_id = %s AND digest = %s",
                    [token_id, digest],
                )
                found = await cur.fetchone()
        except psycopg.OperationalError as e:
            raise Unavailable("postgres", str(e)) from e
        if found is not None and found[1]:
            log.warning("auth.refresh_reuse", family=str(found[0]))
            raise TokenReused("the refresh token was used before: the sign-in is revoked", found[0])
        raise InvalidToken("the refresh token is invalid, expired or revoked")

    async def family_of(self, token: str) -> UUID | None:
        token_id, digest = _split(token)
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT family FROM cw_refresh_tokens WHERE token_id = %s AND digest = %s",
                [token_id, digest],
            )
            row = await cur.fetchone()
        return row[0] if row else None

    async def owner(self, token: str) -> UUID | None:
        """The user a refresh token belongs to, whatever its state."""
        token_id, digest = _split(token)
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT user_id FROM cw_refresh_tokens WHERE token_id = %s AND digest = %s",
                [token_id, digest],
            )
            row = await cur.fetchone()
        return row[0] if row else None
