"""Organisation API keys: what an org admin sends to create, list and revoke them, and the views.

A key is a credential of a machine client (a CRM, a sales portal) acting for its organisation
with one role, until its expiry or its revocation. Its secret is shown once, at creation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

# Every member role but org_admin: a machine acts in the organisation, it does not run it.
KeyRole = Literal["course_manager", "instructor", "trainer", "student", "sales", "auditor"]
KeyStatus = Literal["active", "expired", "revoked"]
KeyName = Annotated[str, Meta(min_length=1, max_length=120, examples=["Acme CRM"])]


class CreateApiKey(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """Create a key for the organisation (its admins)."""

    org_id: UUID
    name: KeyName
    role: KeyRole
    expires_in_days: Annotated[int, Meta(ge=1, le=366)] = 90


class ListApiKeys(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """The organisation's keys, newest first, without their secrets (its admins)."""

    org_id: UUID
    include_revoked: bool = False


class RevokeApiKey(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """Revoke a key: every process refuses it from then on (its admins)."""

    org_id: UUID
    key_id: UUID


class ApiKeyView(msgspec.Struct, kw_only=True):
    key_id: UUID
    org_id: UUID
    name: str
    role: str
    hint: str  # the secret's last four characters, to tell keys apart
    created_by: UUID
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    status: KeyStatus


class NewApiKey(ApiKeyView, kw_only=True):
    """A key just created, with its secret: shown this once, stored only as a hash. Send it as
    `Authorization: Bearer <key>`."""

    key: str


class ApiKeyList(msgspec.Struct, kw_only=True):
    items: list[ApiKeyView]


class KeyRevoked(msgspec.Struct, kw_only=True):
    key_id: UUID
    revoked_at: datetime


class GetApiKey(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """One key, without its secret (its admins)."""

    org_id: UUID
    key_id: UUID
