"""A sales order for a course: its brief, its SOP documents, and the generation that drafts it.

Lifecycle: placed → documents accepted → generating (stage N of M) → draft ready (the course it
produced) → delivered (that course published). Sales may cancel until generation has finished;
a failed generation records its stage and reason and may be retried. The domain decides only:
today's date and the size limit arrive as arguments, documents arrive already stored and hashed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal
from uuid import UUID

from domain import errors
from domain.aggregate import Aggregate, Event
from domain.course import CEFR_LEVELS, Course
from domain.documents import MEDIA_TYPES

Status = Literal["placed", "documents_accepted", "generating", "draft_ready", "delivered", "cancelled", "failed"]
# Documents may change, and sales may cancel, while nothing has been generated from them yet.
OPEN_FOR_DOCUMENTS: tuple[Status, ...] = ("placed", "documents_accepted")
CANCELLABLE: tuple[Status, ...] = ("placed", "documents_accepted", "generating", "failed")
MAX_TEXT = 200  # title, client, job role, industry, language
MAX_NOTES = 4000


# -- errors ------------------------------------------------------------------------------------


class OrderNotFound(errors.NotFound):
    code = "order_not_found"


class OrderExists(errors.Conflict):
    code = "order_exists"


class InvalidOrder(errors.RuleViolation):
    code = "invalid_order"


class OrderTooLarge(errors.RuleViolation):
    """The order's documents together would exceed the size allowed per order."""

    code = "order_too_large"


class OrderStatusConflict(errors.Conflict):
    """The transition asked for is not allowed from the order's current status."""

    code = "order_status_conflict"


class DocumentsLocked(OrderStatusConflict):
    code = "documents_locked"


class NotCancellable(OrderStatusConflict):
    code = "order_not_cancellable"


class NotRetryable(OrderStatusConflict):
    code = "order_not_retryable"


class DocumentNotFound(errors.NotFound):
    code = "document_not_found"


# -- values ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Learners:
    """Who the course is for."""

    job_role: str
    industry: str
    language: str
    count: int


@dataclass(frozen=True)
class Brief:
    """What sales ordered."""

    client: str
    title: str
    cefr_level: str
    learners: Learners
    wanted_by: date
    notes: str = ""


@dataclass(frozen=True)
class Document:
    """A stored SOP document: its content address (sha256) is its identity within the order."""

    sha256: str
    name: str
    media_type: str
    size: int
    uploaded_by: UUID


def _validate_brief(brief: Brief, today: date) -> None:
    for label, text in (
        ("client", brief.client),
        ("title", brief.title),
        ("job_role", brief.learners.job_role),
        ("industry", brief.learners.industry),
        ("language", brief.learners.language),
    ):
        if not text.strip():
            raise InvalidOrder(f"{label} must not be empty")
        if len(text) > MAX_TEXT:
            raise InvalidOrder(f"{label} is longer than {MAX_TEXT} characters")
    if brief.cefr_level not in CEFR_LEVELS:
        raise InvalidOrder(f"cefr_level must be one of {', '.join(CEFR_LEVELS)}")
    if brief.learners.count < 1:
        raise InvalidOrder("the number of learners must be at least 1")
    if brief.wanted_by < today:
        raise InvalidOrder(f"wanted_by {brief.wanted_by} is in the past")
    if len(brief.notes) > MAX_NOTES:
        raise InvalidOrder(f"notes are longer than {MAX_NOTES} characters")


def _validate_document(doc: Document) -> None:
    if len(doc.sha256) != 64 or doc.sha256.strip("0123456789abcdef"):
        raise InvalidOrder("sha256 must be 64 lowercase hex digits")
    if not doc.name.strip() or len(doc.name) > MAX_TEXT:
        raise InvalidOrder(f"a document name must have 1 to {MAX_TEXT} characters")
    if doc.media_type not in MEDIA_TYPES:
        raise InvalidOrder(f"documents must be one of {', '.join(MEDIA_TYPES)}")
    if doc.size < 1:
        raise InvalidOrder("a document must not be empty")


class Order(Aggregate):
    @dataclass(frozen=True)
    class Placed(Event):
        org_id: UUID
        placed_by: UUID
        brief: Brief

    @dataclass(frozen=True)
    class DocumentAdded(Event):
        document: Document

    @dataclass(frozen=True)
    class DocumentRemoved(Event):
        sha256: str

    @dataclass(frozen=True)
    class DocumentsAccepted(Event):
        accepted_by: UUID
        documents: tuple[str, ...]  # the sha256 of each, in the order they were added

    @dataclass(frozen=True)
    class GenerationStarted(Event):
        attempt: int
        stages: tuple[str, ...]

    @dataclass(frozen=True)
    class StageStarted(Event):
        stage: int  # 1-based, of len(GenerationStarted.stages)
        name: str

    @dataclass(frozen=True)
    class DraftReady(Event):
        course_id: UUID

    @dataclass(frozen=True)
    class Delivered(Event):
        course_id: UUID

    @dataclass(frozen=True)
    class Cancelled(Event):
        cancelled_by: UUID
        reason: str

    @dataclass(frozen=True)
    class Failed(Event):
        stage: int  # 0 when generation failed before its first stage
        stage_name: str
        reason: str

    @dataclass(frozen=True)
    class Retried(Event):
        retried_by: UUID

    def _init_state(self) -> None:
        self.org_id: UUID | None = None
        self.placed_by: UUID | None = None
        self.brief: Brief | None = None
        self.status: Status = "placed"
        self.documents: dict[str, Document] = {}  # by sha256, in the order added
        self.attempt = 0
        self.stages: tuple[str, ...] = ()
        self.stage = 0
        self.course_id: UUID | None = None
        self.failure: Order.Failed | None = None
        self.cancel_reason = ""

    # -- queries -----------------------------------------------------------------------------

    @property
    def total_size(self) -> int:
        return sum(d.size for d in self.documents.values())

    @property
    def progress(self) -> tuple[int, int]:
        """(stage N, of M) of the current generation; (0, 0) before one starts."""
        return self.stage, len(self.stages)

    # -- decisions ---------------------------------------------------------------------------

    def place(self, org_id: UUID, placed_by: UUID, brief: Brief, today: date) -> None:
        if self.exists:
            raise OrderExists(f"order {self.id} exists")
        brief = Brief(
            brief.client.strip(),
            brief.title.strip(),
            brief.cefr_level,
            Learners(
                brief.learners.job_role.strip(),
                brief.learners.industry.strip(),
                brief.learners.language.strip(),
                brief.learners.count,
            ),
            brief.wanted_by,
            brief.notes.strip(),
        )
        _validate_brief(brief, today)
        self._record(self.Placed(org_id, placed_by, brief))

    def require_open_for_documents(self) -> None:
        """Refuse unless documents may still change (before generation starts)."""
        self._require_exists()
        if self.status not in OPEN_FOR_DOCUMENTS:
            raise DocumentsLocked(f"order is {self.status}: documents change only before generation")

    def add_document(self, document: Document, max_order_bytes: int) -> bool:
        """Attach a stored document; the same content twice is attached once (returns False)."""
        self.require_open_for_documents()
        _validate_document(document)
        if document.sha256 in self.documents:
            return False
        if self.total_size + document.size > max_order_bytes:
            raise OrderTooLarge(f"the order's documents would exceed {max_order_bytes} bytes")
        self._record(self.DocumentAdded(document))
        return True

    def remove_document(self, sha256: str) -> None:
        self.require_open_for_documents()
        if sha256 not in self.documents:
            raise DocumentNotFound(f"order {self.id} has no document {sha256}")
        self._record(self.DocumentRemoved(sha256))

    def accept_documents(self, accepted_by: UUID) -> None:
        """Sales declares the documents complete: the order is ready for generation."""
        self._require_status("placed", "accept its documents")
        if not self.documents:
            raise InvalidOrder("an order needs at least one document before it is accepted")
        self._record(self.DocumentsAccepted(accepted_by, tuple(self.documents)))

    def start_generation(self, stages: tuple[str, ...]) -> bool:
        """Begin an attempt; starting the attempt that is already running records nothing."""
        self._require_exists()
        if self.status == "generating" and self.stages == stages:
            return False
        self._require_status("documents_accepted", "start generation")
        if not stages or any(not s.strip() for s in stages) or len(set(stages)) != len(stages):
            raise InvalidOrder("generation needs distinct, named stages")
        if not self.documents:
            raise InvalidOrder("generation needs at least one document")
        self._record(self.GenerationStarted(self.attempt + 1, stages))
        return True

    def start_stage(self, stage: int) -> bool:
        """Move generation to stage N (1-based); reporting the current stage again is a no-op."""
        self._require_status("generating", "report progress")
        if not 1 <= stage <= len(self.stages):
            raise InvalidOrder(f"stage must be between 1 and {len(self.stages)}")
        if stage == self.stage:
            return False
        if stage < self.stage:
            raise OrderStatusConflict(f"generation is at stage {self.stage}; it does not go back to {stage}")
        self._record(self.StageStarted(stage, self.stages[stage - 1]))
        return True

    def draft_ready(self, course_id: UUID) -> None:
        self._require_exists()
        if self.status == "draft_ready" and self.course_id == course_id:
            return
        self._require_status("generating", "record a draft")
        self._record(self.DraftReady(course_id))

    def deliver(self, course: Course | None) -> None:
        """The course drafted for this order was published: the order is fulfilled."""
        self._require_status("draft_ready", "be delivered")
        if course is None or course.id != self.course_id:
            raise InvalidOrder(f"that course is not the draft of order {self.id}")
        if course.live is None:
            raise OrderStatusConflict(f"course {course.id} is not published yet")
        self._record(self.Delivered(course.id))

    def cancel(self, cancelled_by: UUID, reason: str) -> None:
        self._require_exists()
        if self.status not in CANCELLABLE:
            raise NotCancellable(f"order is {self.status}: only an order not yet generated can be cancelled")
        self._record(self.Cancelled(cancelled_by, reason.strip()))

    def fail(self, reason: str) -> None:
        """Generation failed at its current stage."""
        self._require_exists()
        if self.status not in ("documents_accepted", "generating"):
            raise OrderStatusConflict(f"order is {self.status}: only a generation in progress can fail")
        if not reason.strip():
            raise InvalidOrder("a failure needs a reason")
        name = self.stages[self.stage - 1] if self.status == "generating" and self.stage else ""
        stage = self.stage if self.status == "generating" else 0
        self._record(self.Failed(stage, name, reason.strip()))

    def retry(self, retried_by: UUID) -> None:
        self._require_exists()
        if self.status != "failed":
            raise NotRetryable(f"order is {self.status}: only a failed order can be retried")
        self._record(self.Retried(retried_by))

    def _require_exists(self) -> None:
        if not self.exists:
            raise OrderNotFound(f"order {self.id} not found")

    def _require_status(self, status: Status, action: str) -> None:
        self._require_exists()
        if self.status != status:
            raise OrderStatusConflict(f"order is {self.status}; it must be {status} to {action}")

    # -- state changes -----------------------------------------------------------------------

    def _on_Placed(self, e: Placed) -> None:
        self.org_id, self.placed_by, self.brief = e.org_id, e.placed_by, e.brief

    def _on_DocumentAdded(self, e: DocumentAdded) -> None:
        self.documents[e.document.sha256] = e.document

    def _on_DocumentRemoved(self, e: DocumentRemoved) -> None:
        del self.documents[e.sha256]

    def _on_DocumentsAccepted(self, e: DocumentsAccepted) -> None:
        self.status = "documents_accepted"

    def _on_GenerationStarted(self, e: GenerationStarted) -> None:
        self.status, self.attempt, self.stages, self.stage = "generating", e.attempt, e.stages, 0
        self.failure = None

    def _on_StageStarted(self, e: StageStarted) -> None:
        self.stage = e.stage

    def _on_DraftReady(self, e: DraftReady) -> None:
        self.status, self.course_id = "draft_ready", e.course_id

    def _on_Delivered(self, e: Delivered) -> None:
        self.status = "delivered"

    def _on_Cancelled(self, e: Cancelled) -> None:
        self.status, self.cancel_reason = "cancelled", e.reason

    def _on_Failed(self, e: Failed) -> None:
        self.status, self.failure = "failed", e

    def _on_Retried(self, e: Retried) -> None:
        self.status, self.failure = "documents_accepted", None
