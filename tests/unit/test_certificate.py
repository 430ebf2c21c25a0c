"""The certificate's rules: issued once, revoked once with a reason; codes and what is signed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import errors
from domain.certificate import (
    Certificate,
    CertificateRevoked,
    Certified,
    certificate_id,
    normalise_code,
    statement,
    verification_code,
)
from domain.enrollment import Enrollment, ModuleOutline
from infra.eventlog.seals import SealKey, signature_valid

AT = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def _certified(code: str = "ABCD-EFGH-JKMN") -> Certified:
    return Certified(
        code=code, enrollment_id=uuid.uuid4(), round=1, student_id=uuid.uuid4(), student_name="Ada",
        course_id=uuid.uuid4(), course_title="Forklifts", revision="1.0", org_id=uuid.uuid4(), org_name="Acme",
        completed_at=AT,
    )  # fmt: skip


def test_issued_once_revoked_once_with_a_reason() -> None:
    c = Certificate.blank(uuid.uuid4())
    assert c.issue(_certified(), "ab" * 32, "cd" * 64, AT) is True
    assert c.issue(_certified(), "ab" * 32, "cd" * 64, AT) is False
    assert len(c.collect()) == 1
    with pytest.raises(errors.RuleViolation):
        c.revoke("  ", uuid.uuid4(), AT)
    c.revoke("fraud", uuid.uuid4(), AT)
    with pytest.raises(CertificateRevoked):
        c.revoke("again", uuid.uuid4(), AT)


def test_one_certificate_id_per_completion_round() -> None:
    e = uuid.uuid4()
    assert certificate_id(e, 1) == certificate_id(e, 1) != certificate_id(e, 2)


def test_an_enrolment_remembers_each_completion_by_its_events_version() -> None:
    lesson = uuid.uuid4()
    e = Enrollment.blank(uuid.uuid4())
    e.enrol(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), "1.0", (ModuleOutline(uuid.uuid4(), (lesson,)),), AT)
    e.complete_lesson(lesson, AT)
    # Enrolled (1), LessonCompleted (2), ModuleCompleted (3), Completed (4)
    assert list(e.completions) == [4] and e.completions[4].round == 1 and e.completions[4].revision == "1.0"
    replayed = Enrollment.replay(e.id, e.collect())
    assert replayed.completions == e.completions


@given(st.integers(min_value=0, max_value=(1 << 60) - 1))
def test_codes_read_back_however_typed(bits: int) -> None:
    code = verification_code(bits)
    assert len(code) == 14 and normalise_code(code) == code
    assert normalise_code(code.lower().replace("-", "").replace("0", "o").replace("1", "l")) == code


def test_what_is_signed_verifies_and_a_change_does_not() -> None:
    key = SealKey.from_hex("11" * 32)
    cid, certified = uuid.uuid4(), _certified()
    signature = key.sign(statement(cid, certified))
    assert signature_valid(key.public_key, signature, statement(cid, certified))
    forged = Certified(**{**certified.__dict__, "student_name": "Mallory"})
    assert not signature_valid(key.public_key, signature, statement(cid, forged))
    assert not signature_valid(key.public_key, "zz", statement(cid, certified))
