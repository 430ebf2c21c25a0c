"""The messaging API's subjects: every command the bus routes is served exactly once, names and
subjects are valid for nats.micro, and the AsyncAPI document describes each one."""

from __future__ import annotations

import re

from commands.routes import ROUTES
from gateway.messaging.asyncapi import asyncapi, subjects
from gateway.messaging.endpoints import endpoints
from gateway.messaging.service import api_subject
from schemas.commands import Command


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
