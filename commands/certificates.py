"""Handlers of the certificate commands: issue one per completion (the certifier's), revoke."""

from __future__ import annotations

from commands.bus import Decided
from commands.session import Session
from domain.certificate import (
    Certificate,
    Certified,
    NothingToCertify,
    certificate_id,
    statement,
    verification_code,
)
from domain.course import Course
from domain.enrollment import Enrollment
from domain.identity import Organisation, User
from schemas import certificates as cert

_CODE_BITS = (1 << 60) - 1


def _decided(c: Certificate, issued: bool) -> Decided:
    certified = c.certified
    assert certified is not None
    return Decided(c, "certificate", {"code": certified.code, "issued": issued})


async def issue_certificate(cmd: cert.IssueCertificate, s: Session) -> Decided:
    """Issue the certificate of one completion; a second call for it changes nothing.

    Two round trips of reads: the enrolment with the organisation the context names (the
    certifier's is the enrolment's), then together all the enrolment names: the certificate of
    its completion's round, the student and the course."""
    await s.prefetch([(Enrollment, cmd.enrollment_id), (Organisation, s.ctx.org_id)])
    enrollment = await s.view(Enrollment, cmd.enrollment_id)
    completion = enrollment.completions.get(cmd.completion)
    if completion is None or enrollment.student_id is None or enrollment.course_id is None:
        raise NothingToCertify(f"enrolment {cmd.enrollment_id} has no completion at version {cmd.completion}")
    assert enrollment.org_id is not None
    issued_id = certificate_id(enrollment.id, completion.round)
    await s.prefetch(
        [
            (Certificate, issued_id),
            (User, enrollment.student_id),
            (Organisation, enrollment.org_id),
            (Course, enrollment.course_id),
        ]
    )
    certificate = await s.load(Certificate, issued_id)
    if certificate.exists:
        return _decided(certificate, False)
    student = await s.view(User, enrollment.student_id)
    organisation = await s.view(Organisation, enrollment.org_id)
    course = await s.view(Course, enrollment.course_id)
    revision = course.published.get(completion.revision)
    details = revision.details if revision is not None else course.details
    certified = Certified(
        code=verification_code(s.ports.ids.new_id().int & _CODE_BITS),
        enrollment_id=enrollment.id,
        round=completion.round,
        student_id=enrollment.student_id,
        student_name=student.name,
        course_id=enrollment.course_id,
        course_title=details.title if details else "",
        revision=completion.revision,
        org_id=enrollment.org_id,
        org_name=organisation.name,
        completed_at=completion.at,
    )
    signer = s.ports.signer
    certificate.issue(certified, signer.public_key, signer.sign(statement(certificate.id, certified)), s.now)
    return _decided(certificate, True)


async def revoke_certificate(cmd: cert.RevokeCertificate, s: Session) -> Decided:
    certificate = await s.existing(Certificate, cmd.certificate_id)
    certificate.revoke(cmd.reason, s.ctx.actor_id, s.now)
    return _decided(certificate, False)
