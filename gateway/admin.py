"""Platform administration from the edge and the operator's shell: the first platform admin of a
fresh system (`CW_BOOTSTRAP_ADMIN_EMAIL`), `coursewright admin grant|create`, and platform
auditors (`coursewright admin grant-auditor|revoke-auditor`)."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import msgspec

from commands.context import Context
from commands.identity import user_by_email
from domain.identity import PlatformBootstrapped, UserNotFound, email_claim_id, normalise_email
from gateway.services import Services
from infra.logging import get_logger
from schemas.identity import GrantPlatformAdmin, GrantPlatformAuditor, RegisterUser, RevokePlatformAuditor
from schemas.results import CommandResult
from schemas.roles import ANYONE, PLATFORM_ADMIN

log = get_logger(__name__)
SYSTEM = UUID(int=1)  # the actor of what the system does by itself


def _system() -> Context:
    return Context(SYSTEM, UUID(int=0), frozenset({PLATFORM_ADMIN}), correlation_id=uuid4().hex)


async def _user_id(services: Services, email: str) -> UUID:
    user = await user_by_email(services.store, email)
    if user is None:
        raise UserNotFound("no user is registered with this email")
    return user.id


async def grant_first_platform_admin(services: Services, email: str) -> CommandResult:
    """Make the user registered with `email` the first platform admin of a fresh system.

    For `CW_BOOTSTRAP_ADMIN_EMAIL`; refused (409) once the platform has an admin, so a
    registration cannot take over a running system.
    """
    user_id = await _user_id(services, email)
    return await services.bus.handle(GrantPlatformAdmin(user_id=user_id, bootstrap=True), _system())


async def grant_platform_admin(services: Services, email: str) -> CommandResult:
    """`coursewright admin grant EMAIL`: whoever runs the system's shell is its operator, so
    this works at any time, also for a user who registered before any admin existed."""
    user_id = await _user_id(services, email)
    return await services.bus.handle(GrantPlatformAdmin(user_id=user_id), _system())


async def create_platform_admin(services: Services, email: str, name: str, password: str) -> CommandResult:
    """`coursewright admin create`: register a user (the same command as POST /auth/register)
    and make them a platform admin."""
    # Converted, not constructed: the declaration's constraints (email, password length) apply.
    register = msgspec.convert({"email": email, "password": password, "name": name}, RegisterUser)
    anonymous = Context(email_claim_id(register.email), UUID(int=0), frozenset({ANYONE}), correlation_id=uuid4().hex)
    await services.bus.handle(register, anonymous)
    return await grant_platform_admin(services, email)


async def grant_platform_auditor(services: Services, email: str) -> CommandResult:
    """`coursewright admin grant-auditor EMAIL`: the user audits every organisation (read-only)."""
    user_id = await _user_id(services, email)
    return await services.bus.handle(GrantPlatformAuditor(user_id=user_id), _system())


async def revoke_platform_auditor(services: Services, email: str) -> CommandResult:
    """`coursewright admin revoke-auditor EMAIL`: the role ends, and with it the user's sign-ins."""
    user_id = await _user_id(services, email)
    return await services.bus.handle(RevokePlatformAuditor(user_id=user_id), _system())


async def maybe_bootstrap(services: Services, request: Any, email: str, user_id: UUID) -> None:
    wanted = services.settings.bootstrap_admin_email
    if not wanted or normalise_email(wanted) != normalise_email(email):
        return
    try:
        await grant_first_platform_admin(services, email)
        log.info("platform.bootstrapped", user_id=str(user_id))
    except PlatformBootstrapped:
        log.warning("platform.bootstrap_refused", reason="the platform has an admin already")
