"""Certificates on the wire: issue (the certifier's), revoke, and the read model's answers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from schemas.commands import Command

Reason = Annotated[str, Meta(min_length=1, max_length=2000)]
Validity = Literal["valid", "revoked", "invalid", "unknown"]


class IssueCertificate(Command, kw_only=True, frozen=True):
    """Certify one completion of an enrolment (sent by the certifier, never over HTTP):
    `completion` is the stream version of the enrolment's Completed event."""

    enrollment_id: UUID
    completion: Annotated[int, Meta(ge=1)]


class RevokeCertificate(Command, kw_only=True, frozen=True):
    certificate_id: UUID
    reason: Reason


class CertificateView(msgspec.Struct, kw_only=True):
    """A certificate as its holder (and their organisation's admins) see it."""

    certificate_id: str
    code: str
    student_id: str
    student_name: str
    course_id: str
    course_title: str
    revision: str
    org_id: str
    org_name: str
    completed_at: datetime
    issued_at: datetime
    status: Literal["valid", "revoked"]
    revoked_reason: str | None = None
    revoked_at: datetime | None = None
    verify_url: str = ""
    pdf_url: str = ""


class CertificateList(msgspec.Struct, kw_only=True):
    items: list[CertificateView]
    position: int


class Certifies(msgspec.Struct, kw_only=True):
    """What a certificate certifies, as the public verification shows it."""

    holder: str
    course_title: str
    revision: str
    organisation: str
    completed_at: datetime
    issued_at: datetime


class Verification(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The public answer for a code: valid, revoked (with the reason), invalid (its signature
    does not verify) or unknown, and what it certifies (never for an unknown code)."""

    code: str
    status: Validity
    certifies: Certifies | None = None
    revoked_reason: str | None = None
    revoked_at: datetime | None = None
    public_key: str | None = None
    signature: str | None = None


# -- queries of the messaging API ------------------------------------------------------------


class CertificateQuery(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    position: Annotated[int, Meta(ge=0)] | None = None  # wait (bounded) until the read model applied it


class ListMyCertificates(CertificateQuery, kw_only=True, frozen=True):
    """The caller's certificates."""


class VerifyCertificate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    code: Annotated[str, Meta(min_length=1, max_length=40)]


class GetCertificate(CertificateQuery, kw_only=True, frozen=True):
    """One certificate (its holder and organisation admins)."""

    certificate_id: UUID
