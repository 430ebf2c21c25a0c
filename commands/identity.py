"""Handlers of the identity commands (users, organisations, platform admins) and the lookups
sign-in needs from the same streams."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import TypeVar
from uuid import UUID

from commands import codec
from commands.bus import Decided
from commands.session import Session
from domain.aggregate import Aggregate
from domain.identity import (
    PLATFORM_ADMINS_ID,
    EmailAddress,
    InvalidResetToken,
    Organisation,
    OrganisationNotFound,
    PlatformAdmins,
    User,
    UserNotFound,
    WrongPassword,
    email_claim_id,
)
from infra.eventlog import EventStore
from infra.mail import Mail
from infra.passwords import Passwords
from schemas import identity as i
from schemas.access import Reach

A = TypeVar("A", bound=Aggregate)
RESET_TOKEN_TTL = timedelta(hours=1)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _user(user: User, **data: object) -> Decided:
    return Decided(user, "user", dict(data))


async def _registered(s: Session, email: str) -> User | None:
    """The user holding `email`, or None when nobody registered it."""
    claim = await s.load(EmailAddress, email_claim_id(email))
    if claim.user_id is None:
        return None
    return await s.load(User, claim.user_id)


async def _organisation(s: Session, org_id: UUID) -> Organisation:
    org = await s.load(Organisation, org_id)
    if not org.exists or (org.id != s.ctx.org_id and s.reach is not Reach.PLATFORM):
        raise OrganisationNotFound(f"organisation {org_id} not found")
    return org


# -- users -------------------------------------------------------------------------------------


async def register_user(cmd: i.RegisterUser, s: Session) -> Decided:
    claim = await s.load(EmailAddress, email_claim_id(cmd.email))
    user = s.track(User.blank(s.ports.ids.new_id()))
    claim.claim(cmd.email, user.id)  # raises EmailTaken before we spend time hashing
    user.register(cmd.email, cmd.name, await s.ports.passwords.hash(cmd.password), s.now)
    return _user(user, email=user.email)


async def change_password(cmd: i.ChangePassword, s: Session) -> Decided:
    user = await s.load(User, s.ctx.actor_id)
    if not user.exists:
        raise UserNotFound("the signed-in user does not exist")
    if not await s.ports.passwords.verify(user.password_hash, cmd.current_password):
        raise WrongPassword("the current password is wrong")
    user.change_password(await s.ports.passwords.hash(cmd.new_password), s.now)
    s.end_signins(user.id)
    return _user(user)


async def update_profile(cmd: i.UpdateProfile, s: Session) -> Decided:
    user = await s.load(User, s.ctx.actor_id)
    user.update_profile(cmd.name, cmd.bio)
    return _user(user)


def _reset_mail(to: str, token: str, expires_at: datetime) -> Mail:
    return Mail(
        to=to,
        subject="Reset your Coursewright password",
        body=f"Someone asked to reset the password of this account. If it was you, set a new one\n"
        f"with this token before {expires_at:%Y-%m-%d %H:%M} UTC:\n\n{token}\n\n"
        "If it was not you, ignore this message: your password stays as it is.\n",
    )


async def request_password_reset(cmd: i.RequestPasswordReset, s: Session) -> Decided:
    """Issue a reset token and mail it; an unknown address changes nothing and says the same."""
    claim = await s.load(EmailAddress, email_claim_id(cmd.email))
    user = await _registered(s, cmd.email)
    if user is not None:
        secret = secrets.token_urlsafe(32)
        expires_at = s.now + RESET_TOKEN_TTL
        user.issue_reset(s.ports.ids.new_id(), _digest(secret), expires_at)
        # Sent once the commit stands: a decision retried after a conflict mails only its own token.
        s.send(_reset_mail(user.email, f"{user.id.hex}.{secret}", expires_at))
    return Decided(claim, "password_reset")


def reset_token_user(token: str) -> UUID:
    """The user a reset token was issued to (the part before the dot)."""
    try:
        return UUID(hex=token.split(".", 1)[0])
    except ValueError:
        raise InvalidResetToken("the reset token is invalid or was used") from None


async def reset_password(cmd: i.ResetPassword, s: Session) -> Decided:
    user = await s.load(User, reset_token_user(cmd.token))
    digest = _digest(cmd.token.split(".", 1)[-1])
    pending = user.reset
    if pending is None or not hmac.compare_digest(pending.token_digest, digest):
        raise InvalidResetToken("the reset token is invalid or was used")
    user.reset_password(digest, await s.ports.passwords.hash(cmd.new_password), s.now)
    s.end_signins(user.id)
    return _user(user)


async def grant_platform_admin(cmd: i.GrantPlatformAdmin, s: Session) -> Decided:
    admins = await s.load(PlatformAdmins, PLATFORM_ADMINS_ID)
    user = await _existing(s, cmd.user_id)
    admins.grant(user.id, s.ctx.actor_id, bootstrap=cmd.bootstrap)
    user.grant_platform_admin(s.ctx.actor_id)
    return _user(user)


async def _existing(s: Session, user_id: UUID) -> User:
    user = await s.load(User, user_id)
    if not user.exists:
        raise UserNotFound(f"user {user_id} not found")
    return user


async def grant_platform_auditor(cmd: i.GrantPlatformAuditor, s: Session) -> Decided:
    user = await _existing(s, cmd.user_id)
    user.grant_platform_auditor(s.ctx.actor_id)
    return _user(user)


async def revoke_platform_auditor(cmd: i.RevokePlatformAuditor, s: Session) -> Decided:
    user = await _existing(s, cmd.user_id)
    user.revoke_platform_auditor(s.ctx.actor_id)
    s.end_signins(user.id)
    return _user(user)


# -- organisations -----------------------------------------------------------------------------


async def create_organisation(cmd: i.CreateOrganisation, s: Session) -> Decided:
    org = await s.load(Organisation, cmd.org_id or s.ports.ids.new_id())
    org.create(cmd.name, s.ctx.actor_id)
    data: dict[str, object] = {}
    if cmd.admin_email is not None:
        admin = await _registered(s, cmd.admin_email)
        if admin is None:
            raise UserNotFound("no user is registered with admin_email")
        admin.join(org.id, org.add_member(admin.id, ("org_admin",)))
        data["admin_id"] = str(admin.id)
    return Decided(org, "organisation", data)


async def rename_organisation(cmd: i.RenameOrganisation, s: Session) -> Decided:
    org = await _organisation(s, cmd.org_id)
    org.rename(cmd.name)
    return Decided(org, "organisation")


async def add_member(cmd: i.AddMember, s: Session) -> Decided:
    org = await _organisation(s, cmd.org_id)
    user = await _registered(s, cmd.email)
    if user is None:
        raise UserNotFound("no user is registered with this email")
    roles = org.add_member(user.id, tuple(cmd.roles))
    user.join(org.id, roles)
    return Decided(org, "organisation", {"user_id": str(user.id), "roles": list(roles)})


async def remove_member(cmd: i.RemoveMember, s: Session) -> Decided:
    org = await _organisation(s, cmd.org_id)
    org.remove_member(cmd.user_id)
    user = await s.load(User, cmd.user_id)
    user.leave(org.id)
    s.end_signins(user.id)
    return Decided(org, "organisation", {"user_id": str(cmd.user_id)})


# -- lookups for sign-in and the identity views ------------------------------------------------


async def read(store: EventStore, cls: type[A], stream_id: UUID) -> A:
    """An aggregate straight from its stream (blank when the stream is empty)."""
    stored = await store.read_stream(stream_id)
    events = [codec.decode(e.event_type, e.payload) for e in stored]
    return cls.replay(stream_id, events, stored[-1].position if stored else 0)


async def user_by_email(store: EventStore, email: str) -> User | None:
    claim = await read(store, EmailAddress, email_claim_id(email))
    if claim.user_id is None:
        return None
    user = await read(store, User, claim.user_id)
    return user if user.exists else None


async def authenticate(store: EventStore, passwords: Passwords, email: str, password: str) -> User | None:
    """The user with this email and password, or None; as slow for a stranger as for a typo."""
    user = await user_by_email(store, email)
    ok = await passwords.verify(user.password_hash if user else "", password)
    return user if ok and user is not None else None


async def users(store: EventStore, user_ids: list[UUID]) -> dict[UUID, User]:
    streams = await store.read_streams(user_ids)
    out = {}
    for sid, stored in streams.items():
        user = User.replay(sid, [codec.decode(e.event_type, e.payload) for e in stored])
        if user.exists:
            out[sid] = user
    return out
