"""User profiles, visible to the members of an organisation the user belongs to; a student's
only to those who teach them (projections.queries.privacy)."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, get
from litestar.params import FromPath

from gateway import people
from gateway.dispatch import CallerDep, ServicesDep, route
from schemas import identity as i


class UserController(Controller):
    path = "/users"
    tags = ["users"]

    @route(get, "/{user_id:uuid}", summary="A user's public profile (name and bio)", status=200)
    async def profile(self, services: ServicesDep, caller: CallerDep, user_id: FromPath[UUID]) -> i.Profile:
        return await people.profile(services, caller, user_id)
