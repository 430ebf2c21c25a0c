"""Identity: users, the claim on an email address, organisations and their members, platform admins.

Passwords arrive already hashed and reset tokens already digested: the domain decides, it never
hashes, draws random numbers or reads the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from domain import errors
from domain.aggregate import Aggregate, Event
from domain.ids import name_id

_NS = UUID("3b0c6a0e-8f5d-4f27-b1a2-6d9e0c4f7a13")
PLATFORM_ADMINS_ID = name_id(_NS, "platform-admins")
GRANTABLE = frozenset({"org_admin", "course_manager", "instructor", "trainer", "student", "sales", "auditor"})


# -- errors ------------------------------------------------------------------------------------


class UserNotFound(errors.NotFound):
    code = "user_not_found"


class OrganisationNotFound(errors.NotFound):
    code = "organisation_not_found"


class MemberNotFound(errors.NotFound):
    code = "member_not_found"


class EmailTaken(errors.Conflict):
    code = "email_taken"


class OrganisationExists(errors.Conflict):
    code = "organisation_exists"


class AlreadyPlatformAdmin(errors.Conflict):
    code = "already_platform_admin"


class AlreadyPlatformAuditor(errors.Conflict):
    code = "already_platform_auditor"


class NotPlatformAuditor(errors.Conflict):
    code = "not_platform_auditor"


class PlatformBootstrapped(errors.Conflict):
    code = "platform_already_bootstrapped"


class WrongPassword(errors.Forbidden):
    code = "wrong_password"


class InvalidResetToken(errors.RuleViolation):
    code = "invalid_reset_token"


class LastOrgAdmin(errors.RuleViolation):
    code = "last_org_admin"


class InvalidRoles(errors.RuleViolation):
    code = "invalid_roles"


def normalise_email(email: str) -> str:
    return email.strip().lower()


def email_claim_id(email: str) -> UUID:
    """The stream that holds the one claim on an address: appending at version 0 makes it unique."""
    return name_id(_NS, "email:" + normalise_email(email))


# -- aggregates --------------------------------------------------------------------------------


class EmailAddress(Aggregate):
    """The claim of one user on one address; its stream exists once the address is taken."""

    @dataclass(frozen=True)
    class Claimed(Event):
        email: str
        user_id: UUID

    def _init_state(self) -> None:
        self.email = ""
        self.user_id: UUID | None = None

    def claim(self, email: str, user_id: UUID) -> None:
        if self.exists:
            raise EmailTaken("this email address is already registered")
        self._record(self.Claimed(normalise_email(email), user_id))

    def _on_Claimed(self, e: Claimed) -> None:
        self.email, self.user_id = e.email, e.user_id


@dataclass(frozen=True)
class PendingReset:
    reset_id: UUID
    token_digest: str
    expires_at: datetime


class User(Aggregate):
    @dataclass(frozen=True)
    class Registered(Event):
        email: str
        name: str
        password_hash: str
        at: datetime

    @dataclass(frozen=True)
    class ProfileUpdated(Event):
        name: str
        bio: str

    @dataclass(frozen=True)
    class PasswordChanged(Event):
        password_hash: str
        at: datetime
        via_reset: bool = False

    @dataclass(frozen=True)
    class ResetTokenIssued(Event):
        reset_id: UUID
        token_digest: str  # sha256 of the secret part: the log never holds a usable token
        expires_at: datetime

    @dataclass(frozen=True)
    class ResetTokenUsed(Event):
        reset_id: UUID
        at: datetime

    @dataclass(frozen=True)
    class JoinedOrganisation(Event):
        org_id: UUID
        roles: tuple[str, ...]

    @dataclass(frozen=True)
    class RolesChanged(Event):
        org_id: UUID
        roles: tuple[str, ...]

    @dataclass(frozen=True)
    class LeftOrganisation(Event):
        org_id: UUID

    @dataclass(frozen=True)
    class PlatformAdminGranted(Event):
        granted_by: UUID

    @dataclass(frozen=True)
    class PlatformAuditorGranted(Event):
        granted_by: UUID

    @dataclass(frozen=True)
    class PlatformAuditorRevoked(Event):
        revoked_by: UUID

    def _init_state(self) -> None:
        self.email = ""
        self.name = ""
        self.bio = ""
        self.password_hash = ""
        self.registered_at: datetime | None = None
        self.memberships: dict[UUID, tuple[str, ...]] = {}  # in the order they were joined
        self.platform_admin = False
        self.platform_auditor = False
        self.reset: PendingReset | None = None

    def _require_exists(self) -> None:
        if not self.exists:
            raise UserNotFound(f"user {self.id} not found")

    # -- decisions ---------------------------------------------------------------------------

    def register(self, email: str, name: str, password_hash: str, at: datetime) -> None:
        if self.exists:
            raise EmailTaken(f"user {self.id} exists")
        if not name.strip():
            raise errors.RuleViolation("name must not be empty")
        self._record(self.Registered(normalise_email(email), name.strip(), password_hash, at))

    def update_profile(self, name: str, bio: str) -> None:
        self._require_exists()
        if not name.strip():
            raise errors.RuleViolation("name must not be empty")
        if (name.strip(), bio) != (self.name, self.bio):
            self._record(self.ProfileUpdated(name.strip(), bio))

    def change_password(self, password_hash: str, at: datetime) -> None:
        self._require_exists()
        self._record(self.PasswordChanged(password_hash, at))

    def issue_reset(self, reset_id: UUID, token_digest: str, expires_at: datetime) -> None:
        """A new reset token; it replaces any earlier one still outstanding."""
        self._require_exists()
        self._record(self.ResetTokenIssued(reset_id, token_digest, expires_at))

    def reset_password(self, token_digest: str, password_hash: str, at: datetime) -> None:
        """Set a new password with the outstanding reset token; the token works once."""
        pending = self.reset
        if not self.exists or pending is None or pending.token_digest != token_digest:
            raise InvalidResetToken("the reset token is invalid or was used")
        if at >= pending.expires_at:
            raise InvalidResetToken("the reset token has expired")
        self._record(self.ResetTokenUsed(pending.reset_id, at))
        self._record(self.PasswordChanged(password_hash, at, via_reset=True))

    def join(self, org_id: UUID, roles: tuple[str, ...]) -> None:
        self._require_exists()
        current = self.memberships.get(org_id)
        if current is None:
            self._record(self.JoinedOrganisation(org_id, roles))
        elif set(current) != set(roles):
            self._record(self.RolesChanged(org_id, roles))

    def leave(self, org_id: UUID) -> None:
        if org_id in self.memberships:
            self._record(self.LeftOrganisation(org_id))

    def grant_platform_admin(self, granted_by: UUID) -> None:
        self._require_exists()
        if self.platform_admin:
            raise AlreadyPlatformAdmin(f"user {self.id} is a platform admin already")
        self._record(self.PlatformAdminGranted(granted_by))

    def grant_platform_auditor(self, granted_by: UUID) -> None:
        self._require_exists()
        if self.platform_auditor:
            raise AlreadyPlatformAuditor(f"user {self.id} is a platform auditor already")
        self._record(self.PlatformAuditorGranted(granted_by))

    def revoke_platform_auditor(self, revoked_by: UUID) -> None:
        self._require_exists()
        if not self.platform_auditor:
            raise NotPlatformAuditor(f"user {self.id} is not a platform auditor")
        self._record(self.PlatformAuditorRevoked(revoked_by))

    # -- state changes -----------------------------------------------------------------------

    def _on_Registered(self, e: Registered) -> None:
        self.email, self.name, self.password_hash = e.email, e.name, e.password_hash
        self.registered_at = e.at

    def _on_ProfileUpdated(self, e: ProfileUpdated) -> None:
        self.name, self.bio = e.name, e.bio

    def _on_PasswordChanged(self, e: PasswordChanged) -> None:
        self.password_hash = e.password_hash
        self.reset = None  # a reset token issued before does not outlive the old password

    def _on_ResetTokenIssued(self, e: ResetTokenIssued) -> None:
        self.reset = PendingReset(e.reset_id, e.token_digest, e.expires_at)

    def _on_ResetTokenUsed(self, e: ResetTokenUsed) -> None:
        self.reset = None

    def _on_JoinedOrganisation(self, e: JoinedOrganisation) -> None:
        self.memberships[e.org_id] = e.roles

    def _on_RolesChanged(self, e: RolesChanged) -> None:
        self.memberships[e.org_id] = e.roles

    def _on_LeftOrganisation(self, e: LeftOrganisation) -> None:
        self.memberships.pop(e.org_id, None)

    def _on_PlatformAdminGranted(self, e: PlatformAdminGranted) -> None:
        self.platform_admin = True

    def _on_PlatformAuditorGranted(self, e: PlatformAuditorGranted) -> None:
        self.platform_auditor = True

    def _on_PlatformAuditorRevoked(self, e: PlatformAuditorRevoked) -> None:
        self.platform_auditor = False


def _check_roles(roles: tuple[str, ...]) -> tuple[str, ...]:
    if not roles:
        raise InvalidRoles("a member needs at least one role")
    unknown = set(roles) - GRANTABLE
    if unknown:
        raise InvalidRoles(f"roles cannot be granted here: {', '.join(sorted(unknown))}")
    return tuple(sorted(set(roles)))


class Organisation(Aggregate):
    """A tenant: its name and its members with their roles."""

    @dataclass(frozen=True)
    class Created(Event):
        name: str
        created_by: UUID

    @dataclass(frozen=True)
    class Renamed(Event):
        name: str

    @dataclass(frozen=True)
    class MemberAdded(Event):
        user_id: UUID
        roles: tuple[str, ...]

    @dataclass(frozen=True)
    class MemberRolesChanged(Event):
        user_id: UUID
        roles: tuple[str, ...]

    @dataclass(frozen=True)
    class MemberRemoved(Event):
        user_id: UUID

    def _init_state(self) -> None:
        self.name = ""
        self.members: dict[UUID, tuple[str, ...]] = {}

    @property
    def org_id(self) -> UUID | None:
        """An organisation belongs to itself: only its members (and platform admins) see it."""
        return self.id if self.exists else None

    def _require_exists(self) -> None:
        if not self.exists:
            raise OrganisationNotFound(f"organisation {self.id} not found")

    def _admins(self) -> set[UUID]:
        return {u for u, roles in self.members.items() if "org_admin" in roles}

    def create(self, name: str, created_by: UUID) -> None:
        if self.exists:
            raise OrganisationExists(f"organisation {self.id} exists")
        if not name.strip():
            raise errors.RuleViolation("name must not be empty")
        self._record(self.Created(name.strip(), created_by))

    def rename(self, name: str) -> None:
        self._require_exists()
        if not name.strip():
            raise errors.RuleViolation("name must not be empty")
        if name.strip() != self.name:
            self._record(self.Renamed(name.strip()))

    def add_member(self, user_id: UUID, roles: tuple[str, ...]) -> tuple[str, ...]:
        """Add a member or set a member's roles; returns the roles as recorded."""
        self._require_exists()
        roles = _check_roles(roles)
        current = self.members.get(user_id)
        if current is None:
            self._record(self.MemberAdded(user_id, roles))
        elif current != roles:
            if "org_admin" not in roles and self._admins() == {user_id}:
                raise LastOrgAdmin("an organisation keeps at least one org admin")
            self._record(self.MemberRolesChanged(user_id, roles))
        return roles

    def remove_member(self, user_id: UUID) -> None:
        self._require_exists()
        if user_id not in self.members:
            raise MemberNotFound(f"user {user_id} is not a member")
        if self._admins() == {user_id}:
            raise LastOrgAdmin("an organisation keeps at least one org admin")
        self._record(self.MemberRemoved(user_id))

    def _on_Created(self, e: Created) -> None:
        self.name = e.name

    def _on_Renamed(self, e: Renamed) -> None:
        self.name = e.name

    def _on_MemberAdded(self, e: MemberAdded) -> None:
        self.members[e.user_id] = e.roles

    def _on_MemberRolesChanged(self, e: MemberRolesChanged) -> None:
        self.members[e.user_id] = e.roles

    def _on_MemberRemoved(self, e: MemberRemoved) -> None:
        self.members.pop(e.user_id, None)


class PlatformAdmins(Aggregate):
    """The one stream listing platform admins; an empty stream means a fresh system."""

    @dataclass(frozen=True)
    class Granted(Event):
        user_id: UUID
        granted_by: UUID

    def _init_state(self) -> None:
        self.admins: set[UUID] = set()

    def grant(self, user_id: UUID, granted_by: UUID, *, bootstrap: bool = False) -> None:
        if bootstrap and self.admins:
            raise PlatformBootstrapped("the platform has an admin already")
        if user_id in self.admins:
            raise AlreadyPlatformAdmin(f"user {user_id} is a platform admin already")
        self._record(self.Granted(user_id, granted_by))

    def _on_Granted(self, e: Granted) -> None:
        self.admins.add(e.user_id)
