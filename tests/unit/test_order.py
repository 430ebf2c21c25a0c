"""The Order aggregate: every transition with its event, and every refusal leaving nothing behind."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from uuid import uuid4

import pytest

from domain import errors
from domain.order import (
    DocumentNotFound,
    DocumentsLocked,
    InvalidOrder,
    Learners,
    NotCancellable,
    NotRetryable,
    Order,
    OrderExists,
    OrderNotFound,
    OrderStatusConflict,
    OrderTooLarge,
)
from tests.unit import builders as b


def refused(order: Order, error: type[errors.DomainError], decide: object, *args: object) -> None:
    """The decision raises `error` and the order records nothing."""
    version = order.version
    with pytest.raises(error):
        decide(*args)  # type: ignore[operator]
    assert order.pending == [] and order.version == version


def test_an_order_is_placed_with_its_brief_trimmed() -> None:
    order = Order.blank(uuid4())
    brief = b.brief(title="  Forklift safety ", client=" Acme Logistics")
    order.place(b.ORG, b.SALES, brief, b.TODAY)
    assert order.collect() == [Order.Placed(b.ORG, b.SALES, b.brief())]
    assert (order.status, order.org_id, order.placed_by, order.brief) == ("placed", b.ORG, b.SALES, b.brief())
    assert order.progress == (0, 0) and order.documents == {}


@pytest.mark.parametrize(
    "brief",
    [
        b.brief(title=" "),
        b.brief(client=""),
        b.brief(cefr_level="D1"),
        b.brief(learners=Learners("operator", "logistics", "pl", 0)),
        b.brief(learners=Learners("", "logistics", "pl", 3)),
        b.brief(learners=Learners("operator", "logistics", " ", 3)),
        b.brief(wanted_by=b.TODAY - timedelta(days=1)),
        b.brief(title="x" * 201),
        b.brief(notes="x" * 4001),
    ],
)
def test_an_order_with_a_bad_brief_is_refused(brief: object) -> None:
    order = Order.blank(uuid4())
    refused(order, InvalidOrder, order.place, b.ORG, b.SALES, brief, b.TODAY)
    assert not order.exists


def test_an_order_wanted_today_is_accepted() -> None:
    order = Order.blank(uuid4())
    order.place(b.ORG, b.SALES, b.brief(wanted_by=b.TODAY), b.TODAY)
    assert order.exists


def test_an_order_is_placed_once() -> None:
    order = b.placed_order()
    order.collect()
    refused(order, OrderExists, order.place, b.ORG, b.SALES, b.brief(), b.TODAY)


def test_a_missing_order_is_not_found_for_every_decision() -> None:
    order = Order.blank(uuid4())
    for decide, args in [
        (order.add_document, (b.document(), b.MAX_ORDER_BYTES)),
        (order.remove_document, ("0" * 64,)),
        (order.accept_documents, (b.SALES,)),
        (order.start_generation, (b.STAGES,)),
        (order.start_stage, (1,)),
        (order.draft_ready, (uuid4(),)),
        (order.deliver, (b.published(),)),
        (order.cancel, (b.SALES, "")),
        (order.fail, ("boom",)),
        (order.retry, (b.SALES,)),
    ]:
        refused(order, OrderNotFound, decide, *args)


# -- documents ---------------------------------------------------------------------------------


def test_documents_are_added_and_the_same_content_is_attached_once() -> None:
    order = b.placed_order()
    order.collect()
    assert order.add_document(b.document(1, size=300), b.MAX_ORDER_BYTES) is True
    assert order.add_document(replace(b.document(1, size=300), name="copy.pdf"), b.MAX_ORDER_BYTES) is False
    assert order.collect() == [Order.DocumentAdded(b.document(1, size=300))]
    assert list(order.documents) == [b.document(1).sha256] and order.total_size == 300


def test_documents_together_may_not_exceed_the_order_limit() -> None:
    order = b.placed_order()
    order.add_document(b.document(1, size=600), b.MAX_ORDER_BYTES)
    order.add_document(b.document(2, size=400), b.MAX_ORDER_BYTES)  # exactly at the limit
    order.collect()
    refused(order, OrderTooLarge, order.add_document, b.document(3, size=1), b.MAX_ORDER_BYTES)
    order.remove_document(b.document(2).sha256)
    assert order.add_document(b.document(3, size=400), b.MAX_ORDER_BYTES)
    assert order.total_size == 1000


@pytest.mark.parametrize(
    "document",
    [
        replace(b.document(), sha256="ab"),
        replace(b.document(), sha256="G" * 64),
        replace(b.document(), name=" "),
        replace(b.document(), media_type="application/zip"),
        replace(b.document(), size=0),
    ],
)
def test_a_bad_document_is_refused(document: object) -> None:
    order = b.placed_order()
    order.collect()
    refused(order, InvalidOrder, order.add_document, document, b.MAX_ORDER_BYTES)


def test_a_document_is_removed_and_an_unknown_one_is_not_found() -> None:
    order = b.order_with_documents()
    order.collect()
    refused(order, DocumentNotFound, order.remove_document, b.document(9).sha256)
    order.remove_document(b.document(1).sha256)
    assert order.collect() == [Order.DocumentRemoved(b.document(1).sha256)] and order.documents == {}


def test_documents_may_change_after_acceptance_until_generation_starts() -> None:
    order = b.accepted_order()
    order.add_document(b.document(2), b.MAX_ORDER_BYTES)
    order.remove_document(b.document(1).sha256)
    assert order.status == "documents_accepted"


@pytest.mark.parametrize("state", ["generating", "draft_ready", "delivered", "cancelled", "failed"])
def test_documents_are_locked_once_generation_has_started(state: str) -> None:
    order = b.ORDER_STATES[state]()
    order.collect()
    refused(order, DocumentsLocked, order.add_document, b.document(5), b.MAX_ORDER_BYTES)
    refused(order, DocumentsLocked, order.remove_document, b.document(1).sha256)


def test_documents_are_accepted_only_with_a_document() -> None:
    order = b.placed_order()
    order.collect()
    refused(order, InvalidOrder, order.accept_documents, b.SALES)
    order.add_document(b.document(1), b.MAX_ORDER_BYTES)
    order.add_document(b.document(2), b.MAX_ORDER_BYTES)
    order.collect()
    order.accept_documents(b.SALES)
    assert order.collect() == [
        Order.DocumentsAccepted(b.SALES, (b.document(1).sha256, b.document(2).sha256)),
    ]
    assert order.status == "documents_accepted"
    refused(order, OrderStatusConflict, order.accept_documents, b.SALES)


# -- generation --------------------------------------------------------------------------------


def test_generation_starts_from_accepted_documents_and_reports_its_stages() -> None:
    order = b.accepted_order()
    order.collect()
    assert order.start_generation(b.STAGES) is True
    assert order.start_generation(b.STAGES) is False  # the same attempt again: nothing new
    assert order.start_stage(1) and order.start_stage(3)
    assert order.start_stage(3) is False
    assert order.collect() == [
        Order.GenerationStarted(1, b.STAGES),
        Order.StageStarted(1, "fetch"),
        Order.StageStarted(3, "draft"),
    ]
    assert (order.status, order.progress) == ("generating", (3, 3))


def test_generation_needs_accepted_documents_and_named_stages() -> None:
    order = b.order_with_documents()
    order.collect()
    refused(order, OrderStatusConflict, order.start_generation, b.STAGES)
    order.accept_documents(b.SALES)
    order.collect()
    for stages in [(), ("fetch", " "), ("fetch", "fetch")]:
        refused(order, InvalidOrder, order.start_generation, stages)


def test_stages_move_forward_within_their_range() -> None:
    order = b.generating_order()
    order.start_stage(2)
    order.collect()
    refused(order, OrderStatusConflict, order.start_stage, 1)
    refused(order, InvalidOrder, order.start_stage, 0)
    refused(order, InvalidOrder, order.start_stage, 4)
    accepted = b.accepted_order()
    accepted.collect()
    refused(accepted, OrderStatusConflict, accepted.start_stage, 1)


def test_a_draft_names_its_course_and_is_recorded_once() -> None:
    order = b.generating_order()
    order.collect()
    course_id = uuid4()
    order.draft_ready(course_id)
    order.draft_ready(course_id)
    assert order.collect() == [Order.DraftReady(course_id)]
    assert (order.status, order.course_id) == ("draft_ready", course_id)
    refused(order, OrderStatusConflict, order.draft_ready, uuid4())
    accepted = b.accepted_order()
    accepted.collect()
    refused(accepted, OrderStatusConflict, accepted.draft_ready, course_id)


def test_an_order_is_delivered_when_its_course_is_published() -> None:
    draft = b.with_lesson()[0]
    order = b.drafted_order(draft.id)
    order.collect()
    refused(order, OrderStatusConflict, order.deliver, draft)  # not published yet
    refused(order, InvalidOrder, order.deliver, b.published())  # another course
    refused(order, InvalidOrder, order.deliver, None)
    order.deliver(b.published(draft))
    assert order.collect() == [Order.Delivered(draft.id)] and order.status == "delivered"
    refused(order, OrderStatusConflict, order.deliver, draft)


def test_only_a_drafted_order_is_delivered() -> None:
    course = b.published()
    order = b.generating_order()
    order.collect()
    refused(order, OrderStatusConflict, order.deliver, course)
    refused(order, OrderStatusConflict, order.deliver, None)


# -- cancellation, failure, retry --------------------------------------------------------------


@pytest.mark.parametrize("state", ["placed", "documents_accepted", "generating", "failed"])
def test_an_order_is_cancelled_until_generation_has_finished(state: str) -> None:
    order = b.ORDER_STATES[state]()
    order.collect()
    order.cancel(b.SALES, " client withdrew ")
    assert order.collect() == [Order.Cancelled(b.SALES, "client withdrew")]
    assert order.status == "cancelled"


@pytest.mark.parametrize("state", ["draft_ready", "delivered", "cancelled"])
def test_no_cancellation_once_generation_has_finished(state: str) -> None:
    order = b.ORDER_STATES[state]()
    order.collect()
    refused(order, NotCancellable, order.cancel, b.SALES, "too late")


def test_a_failure_records_its_stage_and_reason() -> None:
    order = b.generating_order()
    order.start_stage(2)
    order.collect()
    refused(order, InvalidOrder, order.fail, "  ")
    order.fail("the PDF is encrypted")
    assert order.collect() == [Order.Failed(2, "extract", "the PDF is encrypted")]
    assert order.status == "failed" and order.failure == Order.Failed(2, "extract", "the PDF is encrypted")


def test_a_failure_before_the_first_stage_names_no_stage() -> None:
    order = b.accepted_order()
    order.collect()
    order.fail("documents could not be fetched")
    assert order.collect() == [Order.Failed(0, "", "documents could not be fetched")]


@pytest.mark.parametrize("state", ["placed", "draft_ready", "delivered", "cancelled", "failed"])
def test_only_a_generation_in_progress_fails(state: str) -> None:
    order = b.ORDER_STATES[state]()
    order.collect()
    refused(order, OrderStatusConflict, order.fail, "boom")


def test_a_failed_order_is_retried_as_a_new_attempt() -> None:
    order = b.failed_order()
    order.collect()
    order.retry(b.SALES)
    assert order.collect() == [Order.Retried(b.SALES)] and order.status == "documents_accepted"
    order.start_generation(b.STAGES)
    assert order.collect() == [Order.GenerationStarted(2, b.STAGES)]
    assert (order.attempt, order.progress, order.failure) == (2, (0, 3), None)


@pytest.mark.parametrize("state", sorted(set(b.ORDER_STATES) - {"failed"}))
def test_a_retry_only_after_a_failure(state: str) -> None:
    order = b.ORDER_STATES[state]()
    order.collect()
    refused(order, NotRetryable, order.retry, b.SALES)


def test_every_state_replays_to_itself() -> None:
    for state, build in b.ORDER_STATES.items():
        order = build()
        events = order.collect()
        again = Order.replay(order.id, events)
        assert again.status == state == order.status
        assert (again.version, again.documents, again.progress, again.course_id, again.failure) == (
            order.version,
            order.documents,
            order.progress,
            order.course_id,
            order.failure,
        )


def test_generation_needs_a_document_left_after_acceptance() -> None:
    order = b.accepted_order()
    order.remove_document(b.document(1).sha256)
    order.collect()
    refused(order, InvalidOrder, order.start_generation, b.STAGES)
