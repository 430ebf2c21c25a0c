"""Platform administration from the edge: the first platform admin of a fresh system."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from commands.context import Context
from commands.identity import user_by_email
from domain.identity import PlatformBootstrapped, UserNotFound, normalise_email
from gateway.services import Services
from infra.logging import get_logger
from schemas.identity import GrantPlatformAdmin
from schemas.results import CommandResult
from schemas.roles import PLATFORM_ADMIN

log = get_logger(__name__)
SYSTEM = UUID(int=1)  # the actor of what the system does by itself


async def grant_first_platform_admin(services: Services, email: str) -> CommandResult:
    """Make the user registered with `email` the first platform admin of a fresh system.

    For `CW_BOOTSTRAP_ADMIN_EMAIL` and the command line; refused (409) once the platform has an
    admin, so it cannot be used to take over a running system.
    """
    user = await user_by_email(services.store, email)
    if user is None:
        raise UserNotFound("no user is registered with this email")
    ctx = Context(SYSTEM, UUID(int=0), frozenset({PLATFORM_ADMIN}), correlation_id=uuid4().hex)
    return await services.bus.handle(GrantPlatformAdmin(user_id=user.id, bootstrap=True), ctx)


async def maybe_bootstrap(services: Services, request: Any, email: str, user_id: UUID) -> None:
    wanted = services.settings.bootstrap_admin_email
    if not wanted or normalise_email(wanted) != normalise_email(email):
        return
    try:
        await grant_first_platform_admin(services, email)
        log.info("platform.bootstrapped", user_id=str(user_id))
    except PlatformBootstrapped:
        log.warning("platform.bootstrap_refused", reason="the platform has an admin already")
