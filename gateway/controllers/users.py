"""User profiles, visible to the members of an organisation the user belongs to; a student's
only to those who teach them (projections.queries.privacy)."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, get
from litestar.params import FromPath

from commands.identity import users
from domain.identity import User, UserNotFound
from gateway.auth import Caller
from gateway.dispatch import CallerDep, ServicesDep, route
from gateway.services import Services
from projections import queries as rq
from schemas import identity as i
from schemas.roles import is_platform_admin


class UserController(Controller):
    path = "/users"
    tags = ["users"]

    @route(get, "/{user_id:uuid}", summary="A user's public profile (name and bio)", status=200)
    async def profile(self, services: ServicesDep, caller: CallerDep, user_id: FromPath[UUID]) -> i.Profile:
        user = (await users(services.store, [user_id])).get(user_id)
        if user is None or not await _visible(services, caller, user):
            raise UserNotFound(f"user {user_id} not found")
        return i.Profile(user_id=user.id, name=user.name, bio=user.bio)


async def _visible(services: Services, caller: Caller, user: User) -> bool:
    if user.id == caller.user_id or is_platform_admin(caller.roles):
        return True
    roles = user.memberships.get(caller.org_id)
    if roles is None:
        return False
    if set(roles) != {"student"}:  # a colleague
        return True
    return await rq.teaches(services.reader, caller, user.id)
