"""A certificate of completion: one stream per completion of an enrolment, issued once, revocable.

Its id is derived from the enrolment and the completion's round, so however often the completion
is handled (a redelivery, a restart, two workers at once) it meets the same stream and is issued
once. What it certifies is fixed at issue: the student's and course's names as they stood, the
revision completed, the date and the organisation; the signature covers exactly that
(`statement`), so a verifier can check it without trusting the read model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from domain import errors
from domain.aggregate import Aggregate, Event
from domain.ids import name_id

_NS = UUID("3b0e5a8c-6d21-4f4e-9a57-c2e1d7f0b6a4")
# Crockford's base32: no I, L, O or U, so a code read aloud or typed is not misread.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_CHARS = 12  # 60 bits, shown in groups of four: ABCD-EFGH-JKMN


class CertificateNotFound(errors.NotFound):
    code = "certificate_not_found"


class CertificateRevoked(errors.Conflict):
    code = "certificate_revoked"


class NothingToCertify(errors.Conflict):
    code = "nothing_to_certify"


def certificate_id(enrollment_id: UUID, round: int) -> UUID:
    """The one certificate of an enrolment's `round`-th completion."""
    return name_id(_NS, f"certificate:{enrollment_id}:{round}")


def verification_code(bits: int) -> str:
    """A short code from 60 random bits, `XXXX-XXXX-XXXX` in Crockford's base32."""
    chars = "".join(ALPHABET[(bits >> (5 * i)) & 31] for i in range(CODE_CHARS))
    return "-".join(chars[i : i + 4] for i in range(0, CODE_CHARS, 4))


def normalise_code(text: str) -> str | None:
    """A code as typed (any case, with or without dashes, O for 0, I or L for 1) in its
    canonical form, or None when it cannot be one."""
    plain = text.strip().upper().replace("-", "").replace(" ", "")
    plain = plain.replace("O", "0").replace("I", "1").replace("L", "1")
    if len(plain) != CODE_CHARS or any(ch not in ALPHABET for ch in plain):
        return None
    return "-".join(plain[i : i + 4] for i in range(0, CODE_CHARS, 4))


@dataclass(frozen=True)
class Certified:
    """What a certificate says."""

    code: str
    enrollment_id: UUID
    round: int
    student_id: UUID
    student_name: str
    course_id: UUID
    course_title: str
    revision: str
    org_id: UUID
    org_name: str
    completed_at: datetime


def statement(certificate: UUID, c: Certified) -> bytes:
    """The bytes signed: every field a verifier is shown, one per line, in a fixed order."""
    lines = [
        "coursewright-certificate/1",
        str(certificate),
        c.code,
        str(c.student_id),
        c.student_name,
        str(c.course_id),
        c.course_title,
        c.revision,
        str(c.org_id),
        c.org_name,
        c.completed_at.isoformat(),
    ]
    return ("\n".join(line.replace("\n", " ") for line in lines) + "\n").encode()


class Certificate(Aggregate):
    @dataclass(frozen=True)
    class Issued(Event):
        certified: Certified
        public_key: str  # Ed25519, hex
        signature: str  # over `statement(id, certified)`, hex
        at: datetime

    @dataclass(frozen=True)
    class Revoked(Event):
        reason: str
        revoked_by: UUID
        at: datetime

    def _init_state(self) -> None:
        self.certified: Certified | None = None
        self.org_id: UUID | None = None
        self.student_id: UUID | None = None
        self.revoked = False

    def issue(self, certified: Certified, public_key: str, signature: str, at: datetime) -> bool:
        """Issue the certificate; False (no event) when it was issued already."""
        if self.exists:
            return False
        self._record(self.Issued(certified, public_key, signature, at))
        return True

    def revoke(self, reason: str, revoked_by: UUID, at: datetime) -> None:
        if not self.exists:
            raise CertificateNotFound(f"certificate {self.id} not found")
        if self.revoked:
            raise CertificateRevoked("the certificate is revoked already")
        if not reason.strip():
            raise errors.RuleViolation("say why the certificate is revoked")
        self._record(self.Revoked(reason.strip(), revoked_by, at))

    def _on_Issued(self, e: Issued) -> None:
        self.certified = e.certified
        self.org_id, self.student_id = e.certified.org_id, e.certified.student_id

    def _on_Revoked(self, e: Revoked) -> None:
        self.revoked = True
