"""Identity and organisation commands, and the identity views the API answers with."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import msgspec
from msgspec import Meta

from schemas.commands import Command
from schemas.roles import MemberRole

Email = Annotated[
    str,
    Meta(
        min_length=3,
        max_length=254,
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        examples=["ada@example.com"],
    ),
]
Password = Annotated[str, Meta(min_length=10, max_length=256, examples=["correct horse battery"])]
PersonName = Annotated[str, Meta(min_length=1, max_length=120, examples=["Ada Lovelace"])]
Bio = Annotated[str, Meta(max_length=4000)]
OrgName = Annotated[str, Meta(min_length=1, max_length=160, examples=["Acme Logistics"])]
Roles = Annotated[list[MemberRole], Meta(min_length=1, max_length=7, examples=[["instructor"]])]


# -- commands ----------------------------------------------------------------------------------


class RegisterUser(Command, kw_only=True, frozen=True):
    email: Email
    password: Password
    name: PersonName


class ChangePassword(Command, kw_only=True, frozen=True):
    current_password: Annotated[str, Meta(max_length=256)]
    new_password: Password


class UpdateProfile(Command, kw_only=True, frozen=True):
    name: PersonName
    bio: Bio = ""


class RequestPasswordReset(Command, kw_only=True, frozen=True):
    email: Email


class ResetPassword(Command, kw_only=True, frozen=True):
    token: Annotated[str, Meta(min_length=10, max_length=200)]
    new_password: Password


class GrantPlatformAdmin(Command, kw_only=True, frozen=True):
    user_id: UUID
    bootstrap: bool = False  # only if the platform has no admin yet (first user of a system)


class GrantPlatformAuditor(Command, kw_only=True, frozen=True):
    """Make a user a platform auditor: the audit of every organisation, read-only."""

    user_id: UUID


class RevokePlatformAuditor(Command, kw_only=True, frozen=True):
    """End a user's platform auditor role; their sign-ins end with it."""

    user_id: UUID


class CreateOrganisation(Command, kw_only=True, frozen=True):
    name: OrgName
    org_id: UUID | None = None
    admin_email: Email | None = None  # an existing user who becomes its first org admin


class RenameOrganisation(Command, kw_only=True, frozen=True):
    org_id: UUID
    name: OrgName


class AddMember(Command, kw_only=True, frozen=True):
    """Add a registered user to the organisation, or change the roles of a member."""

    org_id: UUID
    email: Email
    roles: Roles


class RemoveMember(Command, kw_only=True, frozen=True):
    org_id: UUID
    user_id: UUID


# -- views -------------------------------------------------------------------------------------


class Membership(msgspec.Struct, kw_only=True):
    org_id: UUID
    roles: list[str]


class Me(msgspec.Struct, kw_only=True):
    """The signed-in user, as the token in hand sees them."""

    user_id: UUID
    email: str
    name: str
    bio: str
    org_id: UUID
    roles: list[str]
    platform_admin: bool
    memberships: list[Membership]


class Profile(msgspec.Struct, kw_only=True):
    user_id: UUID
    name: str
    bio: str


class Member(msgspec.Struct, kw_only=True):
    user_id: UUID
    email: str
    name: str
    roles: list[str]


class OrganisationView(msgspec.Struct, kw_only=True):
    org_id: UUID
    name: str
    members: list[Member]


class TokenPair(msgspec.Struct, kw_only=True):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"
    expires_in: int = 900  # seconds the access token lives
    user_id: UUID | None = None
    org_id: UUID | None = None


# -- the identity questions of the messaging API -------------------------------------------------


class WhoAmI(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """The signed-in user (or the API key's organisation), the organisation and roles."""


class GetProfile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """A user's public profile (name and bio)."""

    user_id: UUID


class GetOrganisation(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """The organisation and its members (its admins, managers, trainers and auditors)."""

    org_id: UUID
