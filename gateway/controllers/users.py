"""User profiles, visible to the members of an organisation the user belongs to."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, get
from litestar.params import FromPath

from commands.identity import users
from domain.identity import UserNotFound
from gateway.dispatch import CallerDep, ServicesDep, route
from schemas import identity as i
from schemas.roles import is_platform_admin


class UserController(Controller):
    path = "/users"
    tags = ["users"]

    @route(get, "/{user_id:uuid}", summary="A user's public profile (name and bio)", status=200)
    async def profile(self, services: ServicesDep, caller: CallerDep, user_id: FromPath[UUID]) -> i.Profile:
        user = (await users(services.store, [user_id])).get(user_id)
        visible = user is not None and (
            user.id == caller.user_id or caller.org_id in user.memberships or is_platform_admin(caller.roles)
        )
        if user is None or not visible:
            raise UserNotFound(f"user {user_id} not found")
        return i.Profile(user_id=user.id, name=user.name, bio=user.bio)
