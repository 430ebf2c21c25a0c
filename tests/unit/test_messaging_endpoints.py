"""The messaging API's subjects: every command the bus routes is served exactly once, names and
subjects are valid for nats.micro, and the AsyncAPI document describes each one."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import msgspec

from commands.routes import ROUTES
from gateway.audit.history import HistoryPage
from gateway.messaging.asyncapi import asyncapi, subjects
from gateway.messaging.audit import fit
from gateway.messaging.endpoints import endpoints
from gateway.messaging.service import api_subject
from schemas.commands import Command
from schemas.envelope import EventEnvelope


def test_every_routed_command_is_served_once_under_a_unique_subject() -> None:
    found = endpoints()
    served = [e.request for e in found if issubclass(e.request, Command)]
    assert sorted(c.__name__ for c in served) == sorted(c.__name__ for c in ROUTES)
    assert len({e.subject for e in found}) == len(found)
    assert len({e.name for e in found}) == len(found)
    for e in found:
        assert re.fullmatch(r"[a-z_]+(\.[a-z_]+)+", e.subject), e.subject
        assert re.fullmatch(r"[A-Za-z0-9\-_]+", e.name), e.name


def test_the_orders_subjects_are_named_for_sales_systems() -> None:
    by_subject = {e.subject: e.request.__name__ for e in endpoints()}
    assert by_subject["orders.place"] == "PlaceOrder"
    assert by_subject["orders.documents.begin"] == "BeginDocumentUpload"
    assert by_subject["orders.get"] == "GetOrder"
    assert by_subject["courses.create_course"] == "CreateCourse"
    assert by_subject["identity.add_member"] == "AddMember"


def test_the_asyncapi_document_names_every_subject_with_its_schemas() -> None:
    found = endpoints()
    doc = asyncapi("cw", found)
    assert doc["asyncapi"] == "3.0.0"
    assert subjects(doc) == {api_subject("cw", e.subject) for e in found}
    schemas = doc["components"]["schemas"]
    for e in found:
        assert e.request.__name__ in schemas and e.reply.__name__ in schemas
        operation = doc["operations"][e.subject.replace(".", "_")]
        assert operation["action"] == "receive"
    assert "Problem" in schemas and "OrderPlaced" in doc["components"]["messages"]
    assert doc["channels"]["event_OrderPlaced"]["address"] == "cw.evt.order.OrderPlaced"
    push = doc["channels"]["push_OrderPlaced"]
    assert push["address"] == "cw.push.v1.orgs.{org_id}.orders.OrderPlaced" and "org_id" in push["parameters"]
    assert doc["operations"]["push_OrderPlaced"]["action"] == "send"


def test_the_auditors_questions_are_served_and_documented() -> None:
    by_subject = {e.subject: e for e in endpoints()}
    for subject, request, reply in [
        ("audit.history", "AuditHistory", "HistoryPage"),
        ("audit.at", "AuditState", "State"),
        ("audit.diff", "AuditDiff", "Difference"),
        ("audit.verify", "AuditVerify", "AuditVerification"),
        ("audit.proof", "AuditProof", "InclusionProof"),
        ("audit.export", "AuditExport", "ExportReady"),
    ]:
        assert (by_subject[subject].request.__name__, by_subject[subject].reply.__name__) == (request, reply)
    doc = asyncapi("cw", endpoints())
    assert doc["channels"]["audit_history"]["address"] == "cw.api.v1.audit.history"
    assert {"AuditHistory", "HistoryPage", "AuditVerification", "Break"} <= set(doc["components"]["schemas"])


def test_a_history_page_is_cut_to_fit_one_nats_message() -> None:
    stream = uuid.uuid4()
    events = [
        EventEnvelope(
            position=p, event_id=uuid.uuid4(), stream_id=stream, stream_type="course", version=p,
            event_type="CourseDetailsEdited", schema_version=1, occurred_at=datetime.now(UTC), actor_id=None,
            org_id=None, correlation_id="c", causation_id=None, prev_hash="0" * 64, hash="0" * 64,
            payload=msgspec.Raw(b'{"text":"%s"}' % (b"x" * 10_000)),
        )
        for p in range(1, 101)
    ]  # fmt: skip
    page = HistoryPage(stream_id=stream, streams=[stream], events=events, next_after=None)
    cut = fit(page, 200_000)
    assert 10 < len(cut.events) < 20 and cut.events == events[: len(cut.events)]
    assert cut.next_after == cut.events[-1].position
    assert len(msgspec.json.encode(cut)) < 200_000
    assert fit(page, 10_000_000) is page  # it fits: unchanged, the cursor where it was
    assert len(fit(page, 1000).events) == 1  # one event always goes, however large
