"""Aggregates in a given state, built only through their own decisions (no I/O)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from domain.aggregate import Aggregate
from domain.content import Assessment, LessonContent, Material, Question
from domain.course import Course, Details
from domain.enrollment import Enrollment, ModuleOutline
from domain.order import Brief, Document, Learners, Order
from domain.review import Review

ORG = UUID("00000000-0000-4000-8000-0000000000aa")
AUTHOR = UUID("00000000-0000-4000-8000-0000000000a1")
REVIEWER = UUID("00000000-0000-4000-8000-0000000000b1")
STUDENT = UUID("00000000-0000-4000-8000-0000000000c1")
SALES = UUID("00000000-0000-4000-8000-0000000000d1")
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def details(**changes: Any) -> Details:
    base = Details(title="Forklift safety", description="", cefr_level="B1", category="safety")
    return replace(base, **changes)


def text(title: str = "Read this") -> LessonContent:
    return LessonContent(materials=(Material("text", title, body="..."),))


def question(qid: str, correct: tuple[int, ...] = (0,), points: int = 1, options: int = 3) -> Question:
    return Question(qid, f"Question {qid}?", tuple(f"option {i}" for i in range(options)), correct, points)


def quiz(
    aid: str = "quiz",
    *questions: Question,
    pass_mark: float = 0.7,
    max_attempts: int | None = None,
) -> Assessment:
    return Assessment(aid, "Check", questions or (question("q1"),), pass_mark, max_attempts)


def with_quiz(assessment: Assessment) -> LessonContent:
    return LessonContent(objectives=("Know the checks",), assessments=(assessment,))


class Outline:
    """Ids of a small course: modules m1 (lessons l1, l2) and m2 (lesson l3)."""

    def __init__(self) -> None:
        self.m1, self.m2 = uuid4(), uuid4()
        self.l1, self.l2, self.l3 = uuid4(), uuid4(), uuid4()

    def modules(self) -> tuple[ModuleOutline, ...]:
        return (ModuleOutline(self.m1, (self.l1, self.l2)), ModuleOutline(self.m2, (self.l3,)))


def draft(capacity: int | None = None, author: UUID = AUTHOR) -> Course:
    course = Course.blank(uuid4())
    course.create(ORG, author, details(capacity=capacity))
    return course


def with_modules(n: int) -> tuple[Course, list[UUID]]:
    """A draft with `n` empty modules, its events collected: (course, module ids in order)."""
    course = draft()
    ids = [uuid4() for _ in range(n)]
    for i, module in enumerate(ids):
        course.add_module(module, f"Module {i}")
    course.collect()
    return course, ids


def with_lesson(course: Course | None = None) -> tuple[Course, UUID, UUID]:
    """A draft with one module and one lesson that has content: (course, module, lesson)."""
    course = course or draft()
    module, lesson = uuid4(), uuid4()
    course.add_module(module, "Basics")
    course.add_lesson(module, lesson, "Checks", 15)
    course.set_content(lesson, text())
    return course, module, lesson


def in_review(course: Course | None = None) -> tuple[Course, UUID]:
    course = course or with_lesson()[0]
    review_id = uuid4()
    course.submit(review_id)
    return course, review_id


def approved(course: Course | None = None) -> Course:
    course, review_id = in_review(course)
    course.approve(review_id, REVIEWER)
    return course


def rejected(course: Course | None = None) -> Course:
    course, review_id = in_review(course)
    course.reject(review_id, REVIEWER, "add a summary")
    return course


def published(course: Course | None = None) -> Course:
    course = approved(course)
    course.publish()
    return course


def archived() -> Course:
    course = published()
    course.archive()
    return course


def deleted() -> Course:
    course = draft()
    course.delete()
    return course


STATES: dict[str, Callable[[], Course]] = {
    "draft": draft,
    "in_review": lambda: in_review()[0],
    "approved": approved,
    "rejected": rejected,
    "published": published,
    "archived": archived,
}


def recorded(agg: Aggregate) -> list[type]:
    """The types of the events recorded since the last collect (which this collects)."""
    return [type(e) for e in agg.collect()]


def requested_review(author: UUID = AUTHOR) -> Review:
    review = Review.blank(uuid4())
    review.request(uuid4(), ORG, author, "0.1", author)
    return review


def enrolled(outline: Outline, course_id: UUID | None = None) -> Enrollment:
    enrollment = Enrollment.blank(uuid4())
    enrollment.enrol(course_id or uuid4(), STUDENT, ORG, "0.1", outline.modules(), T0)
    return enrollment


# -- orders ------------------------------------------------------------------------------------

TODAY = T0.date()
STAGES = ("fetch", "extract", "draft")
MAX_ORDER_BYTES = 1000


def brief(**changes: Any) -> Brief:
    base = Brief(
        client="Acme Logistics",
        title="Forklift safety",
        cefr_level="B1",
        learners=Learners(job_role="warehouse operator", industry="logistics", language="pl", count=12),
        wanted_by=TODAY + timedelta(days=30),
        notes="",
    )
    return replace(base, **changes)


def document(n: int = 1, size: int = 100, media_type: str = "application/pdf") -> Document:
    return Document(f"{n:064x}", f"sop-{n}.pdf", media_type, size, SALES)


def placed_order() -> Order:
    order = Order.blank(uuid4())
    order.place(ORG, SALES, brief(), TODAY)
    return order


def order_with_documents() -> Order:
    order = placed_order()
    order.add_document(document(1), MAX_ORDER_BYTES)
    return order


def accepted_order() -> Order:
    order = order_with_documents()
    order.accept_documents(SALES)
    return order


def generating_order() -> Order:
    order = accepted_order()
    order.start_generation(STAGES)
    return order


def failed_order() -> Order:
    order = generating_order()
    order.start_stage(2)
    order.fail("the PDF is encrypted")
    return order


def drafted_order(course_id: UUID | None = None) -> Order:
    order = generating_order()
    order.draft_ready(course_id or uuid4())
    return order


def delivered_order() -> Order:
    course = published()
    order = drafted_order(course.id)
    order.deliver(course)
    return order


def cancelled_order() -> Order:
    order = placed_order()
    order.cancel(SALES, "client withdrew")
    return order


ORDER_STATES: dict[str, Callable[[], Order]] = {
    "placed": placed_order,
    "documents_accepted": accepted_order,
    "generating": generating_order,
    "draft_ready": drafted_order,
    "delivered": delivered_order,
    "cancelled": cancelled_order,
    "failed": failed_order,
}
