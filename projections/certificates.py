"""The `certificates` read model: one row per certificate, found by id, holder or code."""

from __future__ import annotations

from domain.certificate import Certificate
from infra.eventlog import EventEnvelope
from projections.model import Projection, Table, on

CERTIFICATES = Table(
    "certificates",
    columns=(
        ("certificate_id", "uuid NOT NULL"),
        ("code", "text NOT NULL"),
        ("enrollment_id", "uuid NOT NULL"),
        ("round", "integer NOT NULL"),
        ("student_id", "uuid NOT NULL"),
        ("student_name", "text NOT NULL"),
        ("course_id", "uuid NOT NULL"),
        ("course_title", "text NOT NULL"),
        ("revision", "text NOT NULL"),
        ("org_id", "uuid NOT NULL"),
        ("org_name", "text NOT NULL"),
        ("completed_at", "timestamptz NOT NULL"),
        ("issued_at", "timestamptz NOT NULL"),
        ("public_key", "text NOT NULL"),
        ("signature", "text NOT NULL"),
        ("revoked_reason", "text"),
        ("revoked_at", "timestamptz"),
    ),
    key=("certificate_id",),
    indexes=("(code)", "(student_id, issued_at DESC)", "(org_id, issued_at DESC)"),
)


class CertificatesProjection(Projection):
    name = "certificates"
    version = 1
    tables = (CERTIFICATES,)

    @on(Certificate.Issued)
    async def issued(self, e: Certificate.Issued, env: EventEnvelope) -> None:
        c = e.certified
        self.put(
            "certificates",
            {
                "certificate_id": env.stream_id,
                "code": c.code,
                "enrollment_id": c.enrollment_id,
                "round": c.round,
                "student_id": c.student_id,
                "student_name": c.student_name,
                "course_id": c.course_id,
                "course_title": c.course_title,
                "revision": c.revision,
                "org_id": c.org_id,
                "org_name": c.org_name,
                "completed_at": c.completed_at,
                "issued_at": e.at,
                "public_key": e.public_key,
                "signature": e.signature,
                "revoked_reason": None,
                "revoked_at": None,
            },
        )

    @on(Certificate.Revoked)
    async def revoked(self, e: Certificate.Revoked, env: EventEnvelope) -> None:
        row = await self.require("certificates", env.stream_id, "certificate {key} was never issued")
        row.update(revoked_reason=e.reason, revoked_at=e.at)
        self.put("certificates", row)
