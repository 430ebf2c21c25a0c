"""What both edges (HTTP and NATS) answer about people: the caller, a user's profile, an
organisation and its members. One answer each, so the two transports refuse alike."""

from __future__ import annotations

from uuid import UUID

from commands.errors import PermissionDenied
from commands.identity import read, users
from domain.identity import Organisation, OrganisationNotFound, User, UserNotFound
from gateway.auth import Caller
from gateway.services import Services
from projections import queries as rq
from schemas import identity as i
from schemas.access import QUERIES, Query, Reach
from schemas.roles import is_platform_admin


async def me(services: Services, caller: Caller) -> i.Me:
    """The signed-in user, the organisation they act in and their roles there."""
    found = (await users(services.store, [caller.user_id])).get(caller.user_id)
    memberships = found.memberships if found else {}
    return i.Me(
        user_id=caller.user_id,
        email=caller.email,
        name=found.name if found else "",
        bio=found.bio if found else "",
        org_id=caller.org_id,
        roles=sorted(caller.roles),
        platform_admin=bool(found and found.platform_admin),
        memberships=[i.Membership(org_id=o, roles=list(r)) for o, r in memberships.items()],
    )


async def profile(services: Services, caller: Caller, user_id: UUID) -> i.Profile:
    """A user's public profile, for whoever may see them; anyone else: not found."""
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


async def organisation(services: Services, caller: Caller, org_id: UUID) -> i.OrganisationView:
    """The organisation and its members, for its admins, managers, trainers and auditors."""
    if org_id != caller.org_id and not is_platform_admin(caller.roles):
        raise OrganisationNotFound(f"organisation {org_id} not found")
    org = await read(services.store, Organisation, org_id)
    if not org.exists:
        raise OrganisationNotFound(f"organisation {org_id} not found")
    members_query = QUERIES[Query.MEMBERS]
    if members_query.reach(caller.roles) is Reach.NONE:
        raise PermissionDenied(f"listing members needs one of: {members_query.describe()}")
    people = await users(services.store, list(org.members))
    members = [
        i.Member(user_id=uid, email=people[uid].email, name=people[uid].name, roles=list(roles))
        for uid, roles in org.members.items()
        if uid in people
    ]
    return i.OrganisationView(org_id=org.id, name=org.name, members=members)
