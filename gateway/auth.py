"""Who is calling: the bearer token (a user's access token, or an organisation's API key)
becomes a `Caller`; sign-in, refresh and sign-out."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID

from litestar import Request

from commands import identity
from commands.errors import PermissionDenied
from domain.identity import Organisation, OrganisationNotFound, User
from gateway.scope import header
from infra.apikeys import ApiKeys, is_api_key
from infra.eventlog import EventStore
from infra.passwords import Passwords
from infra.revocations import Revocations
from infra.tokens import (
    AccessClaims,
    AccessTokens,
    InvalidCredentials,
    InvalidToken,
    RefreshTokens,
    StreamTickets,
    TokenReused,
)
from schemas.identity import TokenPair
from schemas.roles import PLATFORM_ADMIN, PLATFORM_AUDITOR, ROLES, Role

NO_ORG = UUID(int=0)  # the organisation of a user who belongs to none yet


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated user, the organisation the token was issued for, and their roles there.
    For an API key: the key's id as `user_id` (so its commands name it as their actor), its
    organisation, its one role, and no email."""

    user_id: UUID
    org_id: UUID
    roles: frozenset[Role]
    email: str


def roles_in(user: User, org_id: UUID) -> frozenset[Role]:
    """The roles `user` holds in `org_id`, the platform roles included."""
    roles = {r for r in user.memberships.get(org_id, ()) if r in ROLES}
    if user.platform_admin:
        roles.add(PLATFORM_ADMIN)
    if user.platform_auditor:
        roles.add(PLATFORM_AUDITOR)
    return cast(frozenset[Role], frozenset(roles))


class Authenticator:
    """Issues and checks tokens; the `caller` dependency of every protected handler."""

    def __init__(
        self,
        store: EventStore,
        passwords: Passwords,
        access: AccessTokens,
        refresh: RefreshTokens,
        revocations: Revocations,
        api_keys: ApiKeys,
        tickets: StreamTickets,
    ) -> None:
        self.store = store
        self.passwords = passwords
        self.access = access
        self.refresh = refresh
        self.revocations = revocations
        self.api_keys = api_keys
        self.tickets = tickets

    # -- checking ----------------------------------------------------------------------------

    def claims(self, request: Request[Any, Any, Any]) -> AccessClaims:
        """The verified claims of the request's bearer token (cached on the request)."""
        return self.claims_of(request.scope)  # type: ignore[arg-type]

    def claims_of(self, scope: dict[str, Any]) -> AccessClaims:
        """`claims` from the ASGI scope itself (middleware builds no Request for it)."""
        state = scope.setdefault("state", {})
        cached = state.get("claims")
        if isinstance(cached, AccessClaims):
            return cached
        if isinstance(cached, InvalidToken):
            raise cached
        try:
            scheme, _, token = (header(scope, b"authorization") or "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise InvalidToken("an Authorization: Bearer <access token> header is required")
            claims = self.access.verify(token.strip())
        except InvalidToken as e:
            state["claims"] = e
            raise
        state["claims"] = claims
        return claims

    async def caller(self, request: Request[Any, Any, Any]) -> Caller:
        scheme, _, token = (header(request.scope, b"authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and is_api_key(token.strip()):
            return await self.caller_of_token(token.strip())
        return await self._unrevoked(self.claims(request))

    async def caller_of_token(self, token: str) -> Caller:
        """The caller a bearer token names (an access token or an API key): verified, not
        revoked, not expired."""
        if is_api_key(token):
            key = await self.api_keys.verify(token)
            return Caller(key.key_id, key.org_id, cast(frozenset[Role], frozenset({key.role})), "")
        return await self._unrevoked(self.access.verify(token))

    def ticket(self, request: Request[Any, Any, Any]) -> str:
        """A stream ticket for the signed-in caller of `request` (its access token already
        checked by the `caller` dependency); an API key needs none: it sends its header."""
        _, _, token = (header(request.scope, b"authorization") or "").partition(" ")
        if is_api_key(token.strip()):
            raise PermissionDenied("stream tickets are for signed-in users; an API key sends its Authorization header")
        return self.tickets.issue(self.claims(request))

    async def lasting_caller(
        self, request: Request[Any, Any, Any], ticket: str | None
    ) -> tuple[Caller, contextlib.AbstractContextManager[asyncio.Event]]:
        """The caller of an answer that lasts (the notification stream), by its stream ticket
        (verified, unexpired, its sign-in not ended) or else its bearer token, and a watch of
        what it signed in with (its sign-in, or its API key): the event it gives is set once that
        ends, here or in another process."""
        if ticket is not None:
            claims = self.tickets.verify(ticket)
        else:
            scheme, _, token = (header(request.scope, b"authorization") or "").partition(" ")
            if scheme.lower() == "bearer" and is_api_key(token.strip()):
                caller = await self.caller_of_token(token.strip())
                return caller, self.api_keys.watching(caller.user_id)  # an API key's caller is the key
            claims = self.claims(request)
        return await self._unrevoked(claims), self.revocations.watching(claims.family)

    async def _unrevoked(self, claims: AccessClaims) -> Caller:
        if not self.revocations.loaded:  # the app's startup loads them; an app not started has not
            await self.revocations.load()
        if self.revocations.is_revoked(claims.family):
            raise InvalidToken("the sign-in was revoked")
        return _caller(claims)

    def caller_now(self, scope: dict[str, Any]) -> Caller | None:
        """The caller when that is known with no I/O (a valid token, the revocations loaded);
        None when finding out needs the full path (`caller`), or the answer is no."""
        try:
            claims = self.claims_of(scope)
        except InvalidToken:
            return None
        revocations = self.revocations
        return _caller(claims) if revocations.loaded and not revocations.is_revoked(claims.family) else None

    # -- issuing -----------------------------------------------------------------------------

    async def _org_for(self, user: User, wanted: UUID | None) -> UUID:
        """The organisation a sign-in enters: the one asked for, else the first joined."""
        if wanted is None or wanted == NO_ORG:
            return next(iter(user.memberships), NO_ORG) if wanted is None else NO_ORG
        if wanted in user.memberships:
            return wanted
        if user.platform_admin:
            org = await identity.read(self.store, Organisation, wanted)
            if org.exists:
                return wanted
        raise OrganisationNotFound(f"organisation {wanted} not found")

    def _pair(self, user: User, org_id: UUID, family: UUID, refresh_token: str) -> TokenPair:
        access = self.access.issue(user.id, org_id, roles_in(user, org_id), user.email, family)
        return TokenPair(
            access_token=access,
            refresh_token=refresh_token,
            expires_in=int(self.access.ttl.total_seconds()),
            user_id=user.id,
            org_id=org_id,
        )

    async def login(self, email: str, password: str, org_id: UUID | None) -> TokenPair:
        user = await identity.authenticate(self.store, self.passwords, email, password)
        if user is None:
            raise InvalidCredentials("wrong email or password")
        org = await self._org_for(user, org_id)
        token, family = await self.refresh.issue(user.id, org)
        return self._pair(user, org, family, token)

    async def renew(self, refresh_token: str, org_id: UUID | None) -> TokenPair:
        """Rotate a refresh token; roles are read afresh, so a change shows at the next renewal."""
        if org_id is not None:
            # Check a move to another organisation before the token is spent: a refused move
            # leaves the sign-in as it was.
            owner = await self.refresh.owner(refresh_token)
            if owner is None:
                raise InvalidToken("the refresh token is invalid, expired or revoked")
            await self._org_for(await identity.read(self.store, User, owner), org_id)
        try:
            grant = await self.refresh.rotate(refresh_token, org_id)
        except TokenReused as e:
            await self.revocations.revoke([e.family])  # a stolen copy is about: end the sign-in
            raise
        user = await identity.read(self.store, User, grant.user_id)
        if not user.exists:
            raise InvalidToken("the user no longer exists")
        org = grant.org_id
        if org != NO_ORG and org not in user.memberships and not user.platform_admin:
            org = NO_ORG  # left the organisation since: the sign-in goes on outside it
        return self._pair(user, org, grant.family, grant.token)

    async def logout(self, caller_family: UUID, refresh_token: str | None) -> None:
        """End this sign-in (and the one `refresh_token` belongs to): its tokens stop working."""
        families = {caller_family}
        if refresh_token:
            family = await self.refresh.family_of(refresh_token)
            if family is not None:
                families.add(family)
        await self.revocations.revoke(families)


def authenticator_of(request: Request[Any, Any, Any]) -> Authenticator:
    """The app's Authenticator, for the handlers that issue or check tokens themselves."""
    auth: Authenticator = request.app.state.auth
    return auth


def _caller(claims: AccessClaims) -> Caller:
    roles = cast(frozenset[Role], frozenset(r for r in claims.roles if r in ROLES))
    return Caller(claims.user_id, claims.org_id, roles, claims.email)
