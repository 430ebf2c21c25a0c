"""Order invariants under random command sequences: replay gives the live state, documents change
only before generation, the size limit holds, progress only moves forward, and a finished order
(delivered or cancelled) never changes again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import uuid4

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from domain.order import OPEN_FOR_DOCUMENTS, Order
from tests.unit import builders as b
from tests.unit.test_properties import PROPERTIES, Recorder, through_codec

FINISHED = ("delivered", "cancelled")
SIZES = st.sampled_from([1, 100, 400, 999, 1000, 1001])
MEDIA = st.sampled_from(["application/pdf", "text/plain", "image/png", "application/zip"])
STAGE_LISTS = st.sampled_from([b.STAGES, ("fetch", "write"), (), ("a", "a")])


def order_state(o: Order) -> tuple[Any, ...]:
    return (
        o.version,
        o.status,
        o.org_id,
        o.placed_by,
        o.brief,
        tuple(o.documents.items()),
        o.attempt,
        o.stages,
        o.stage,
        o.course_id,
        o.failure,
        o.cancel_reason,
    )


class OrderMachine(RuleBasedStateMachine):
    @initialize()
    def place(self) -> None:
        self.order = Order.blank(uuid4())
        self.rec = Recorder(self.order)
        self.rec.run(lambda: self.order.place(b.ORG, b.SALES, b.brief(), b.TODAY))
        self.course = b.with_lesson()[0]

    def _run(self, decide: Callable[[], object]) -> None:
        before = order_state(self.order)
        status, documents = self.order.status, dict(self.order.documents)
        stage, attempt = self.order.stage, self.order.attempt
        new = self.rec.run(decide)
        if status in FINISHED:
            assert new == [] and order_state(self.order) == before
        if any(isinstance(e, (Order.DocumentAdded, Order.DocumentRemoved)) for e in new):
            assert status in OPEN_FOR_DOCUMENTS
        if status == self.order.status == "generating" and self.order.attempt == attempt:
            assert self.order.stage >= stage
        assert self.order.attempt >= attempt
        if status not in OPEN_FOR_DOCUMENTS:
            assert self.order.documents == documents

    @rule(n=st.integers(1, 4), size=SIZES, media=MEDIA)
    def add_document(self, n: int, size: int, media: str) -> None:
        doc = b.document(n, size, media)
        self._run(lambda: self.order.add_document(doc, b.MAX_ORDER_BYTES))

    @rule(n=st.integers(1, 4))
    def remove_document(self, n: int) -> None:
        self._run(lambda: self.order.remove_document(b.document(n).sha256))

    @rule()
    def accept_documents(self) -> None:
        self._run(lambda: self.order.accept_documents(b.SALES))

    @rule(stages=STAGE_LISTS)
    def start_generation(self, stages: tuple[str, ...]) -> None:
        self._run(lambda: self.order.start_generation(stages))

    @rule(stage=st.integers(0, 4))
    def start_stage(self, stage: int) -> None:
        self._run(lambda: self.order.start_stage(stage))

    @rule(ours=st.booleans())
    def draft_ready(self, ours: bool) -> None:
        course_id = self.course.id if ours else uuid4()
        self._run(lambda: self.order.draft_ready(course_id))

    @rule()
    def publish_the_course(self) -> None:
        if self.course.live is None:
            b.published(self.course)

    @rule()
    def deliver(self) -> None:
        self._run(lambda: self.order.deliver(self.course))

    @rule(reason=st.sampled_from(["", "client withdrew"]))
    def cancel(self, reason: str) -> None:
        self._run(lambda: self.order.cancel(b.SALES, reason))

    @rule(reason=st.sampled_from(["", "OCR failed"]))
    def fail(self, reason: str) -> None:
        self._run(lambda: self.order.fail(reason))

    @rule()
    def retry(self) -> None:
        self._run(lambda: self.order.retry(b.SALES))

    @invariant()
    def replay_gives_the_live_state(self) -> None:
        history = self.rec.history
        assert self.order.version == len(history)
        stored = through_codec(Order, history)
        assert stored == history
        assert order_state(Order.replay(self.order.id, stored)) == order_state(self.order)

    @invariant()
    def limits_and_progress_hold(self) -> None:
        o = self.order
        assert o.total_size <= b.MAX_ORDER_BYTES
        stage, of = o.progress
        assert 0 <= stage <= of
        assert (o.course_id is not None) == (o.status in ("draft_ready", "delivered"))
        if o.status == "failed":
            assert o.failure is not None
        if o.failure is not None:
            assert o.status in ("failed", "cancelled")
        if o.status in ("generating", "draft_ready", "delivered"):
            assert o.documents and o.attempt >= 1

    @invariant()
    def delivered_means_its_course_is_published(self) -> None:
        if self.order.status == "delivered":
            assert self.order.course_id == self.course.id and self.course.live is not None


OrderMachine.TestCase.settings = PROPERTIES
test_order_replay_and_invariants = OrderMachine.TestCase
