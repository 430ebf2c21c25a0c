"""Certificates: a holder's list, one certificate (holder or their organisation's admins), and
the public verification of a code."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.certificate import CertificateNotFound, Certified, normalise_code, statement
from infra.eventlog.seals import signature_valid
from projections.queries.reader import Reader, Viewer, reach
from schemas.access import Query, Reach
from schemas.certificates import CertificateList, CertificateView, Certifies, Validity, Verification

_COLUMNS = (
    "certificate_id, code, enrollment_id, round, student_id, student_name, course_id, course_title, revision,"
    " org_id, org_name, completed_at, issued_at, public_key, signature, revoked_reason, revoked_at"
)


def _view(r: tuple[Any, ...]) -> CertificateView:
    return CertificateView(
        certificate_id=str(r[0]),
        code=r[1],
        student_id=str(r[4]),
        student_name=r[5],
        course_id=str(r[6]),
        course_title=r[7],
        revision=r[8],
        org_id=str(r[9]),
        org_name=r[10],
        completed_at=r[11],
        issued_at=r[12],
        status="revoked" if r[16] is not None else "valid",
        revoked_reason=r[15],
        revoked_at=r[16],
        verify_url=f"/certificates/verify/{r[1]}",
        pdf_url=f"/me/certificates/{r[0]}/pdf",
    )


def _certified(r: tuple[Any, ...]) -> Certified:
    return Certified(
        code=r[1], enrollment_id=r[2], round=r[3], student_id=r[4], student_name=r[5], course_id=r[6],
        course_title=r[7], revision=r[8], org_id=r[9], org_name=r[10], completed_at=r[11],
    )  # fmt: skip


async def my_certificates(reader: Reader, viewer: Viewer, *, position: int | None = None) -> CertificateList:
    """The viewer's own certificates, newest first."""
    await reader.reach("certificates", position)
    async with reader.connection() as conn:
        at = await reader.checkpoint(conn, "certificates")
        cur = await conn.execute(
            f"SELECT {_COLUMNS} FROM rm_certificates.certificates WHERE student_id = %s"
            " ORDER BY issued_at DESC, certificate_id",
            [viewer.user_id],
        )
        rows = await cur.fetchall()
    return CertificateList(items=[_view(r) for r in rows], position=at)


async def certificate(
    reader: Reader, viewer: Viewer, certificate_id: UUID, *, position: int | None = None
) -> CertificateView:
    """One certificate, for its holder and their organisation's admins; anyone else: not found."""
    await reader.reach("certificates", position)
    async with reader.connection() as conn:
        cur = await conn.execute(
            f"SELECT {_COLUMNS} FROM rm_certificates.certificates WHERE certificate_id = %s", [certificate_id]
        )
        r = await cur.fetchone()
    if r is None or (r[4] != viewer.user_id and reach(viewer, Query.CERTIFICATES, r[9]) < Reach.ORGANISATION):
        raise CertificateNotFound(f"certificate {certificate_id} not found")
    return _view(r)


async def verify(reader: Reader, code: str, trusted: frozenset[str]) -> Verification:
    """The public answer for `code`: what it certifies and whether it stands; nothing else
    about the holder (no ids, no contact, no progress)."""
    canonical = normalise_code(code)
    if canonical is None:
        return Verification(code=code[:32], status="unknown")
    async with reader.connection() as conn:
        cur = await conn.execute(f"SELECT {_COLUMNS} FROM rm_certificates.certificates WHERE code = %s", [canonical])
        r = await cur.fetchone()
    if r is None:
        return Verification(code=canonical, status="unknown")
    genuine = r[13] in trusted and signature_valid(r[13], r[14], statement(r[0], _certified(r)))
    status: Validity = "invalid" if not genuine else "revoked" if r[16] is not None else "valid"
    return Verification(
        code=canonical,
        status=status,
        certifies=Certifies(
            holder=r[5], course_title=r[7], revision=r[8], organisation=r[10], completed_at=r[11], issued_at=r[12]
        ),
        revoked_reason=r[15],
        revoked_at=r[16],
        public_key=r[13],
        signature=r[14],
    )
