"""A review round of one course revision: requested, assigned, commented, decided."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from domain import errors
from domain.aggregate import Aggregate, Event

Decision = Literal["open", "approved", "rejected"]


@dataclass(frozen=True)
class Comment:
    comment_id: UUID
    author_id: UUID
    lesson_id: UUID | None
    text: str


class Review(Aggregate):
    @dataclass(frozen=True)
    class Requested(Event):
        course_id: UUID
        org_id: UUID
        author_id: UUID
        revision: str
        requested_by: UUID

    @dataclass(frozen=True)
    class ReviewerAssigned(Event):
        reviewer_id: UUID

    @dataclass(frozen=True)
    class Commented(Event):
        comment_id: UUID
        author_id: UUID
        lesson_id: UUID | None
        text: str

    @dataclass(frozen=True)
    class Approved(Event):
        reviewer_id: UUID
        feedback: str

    @dataclass(frozen=True)
    class Rejected(Event):
        reviewer_id: UUID
        feedback: str

    def _init_state(self) -> None:
        self.course_id: UUID | None = None
        self.org_id: UUID | None = None
        self.author_id: UUID | None = None
        self.revision = ""
        self.reviewer_id: UUID | None = None
        self.decision: Decision = "open"
        self.comments: list[Comment] = []
        self.feedback = ""

    def _require_open(self) -> None:
        if not self.exists:
            raise errors.ReviewNotFound(f"review {self.id} not found")
        if self.decision != "open":
            raise errors.ReviewClosed(f"review {self.id} is {self.decision}")

    def request(self, course_id: UUID, org_id: UUID, author_id: UUID, revision: str, requested_by: UUID) -> None:
        if self.exists:
            raise errors.Conflict(f"review {self.id} exists")
        self._record(self.Requested(course_id, org_id, author_id, revision, requested_by))

    def assign(self, reviewer_id: UUID) -> None:
        self._require_open()
        if reviewer_id == self.author_id:
            raise errors.SelfApproval("the author cannot review their own course")
        if reviewer_id != self.reviewer_id:
            self._record(self.ReviewerAssigned(reviewer_id))

    def comment(self, comment_id: UUID, author_id: UUID, lesson_id: UUID | None, text: str) -> None:
        self._require_open()
        if not text.strip():
            raise errors.RuleViolation("a comment needs text")
        self._record(self.Commented(comment_id, author_id, lesson_id, text))

    def _require_decider(self, reviewer_id: UUID) -> None:
        self._require_open()
        if reviewer_id == self.author_id:
            raise errors.SelfApproval("the author cannot decide on their own course")
        if self.reviewer_id is not None and reviewer_id != self.reviewer_id:
            raise errors.ReviewerNotAssigned("only the assigned reviewer decides this review")

    def approve(self, reviewer_id: UUID, feedback: str = "") -> None:
        self._require_decider(reviewer_id)
        self._record(self.Approved(reviewer_id, feedback))

    def reject(self, reviewer_id: UUID, feedback: str) -> None:
        self._require_decider(reviewer_id)
        if not feedback.strip():
            raise errors.RuleViolation("a rejection needs feedback")
        self._record(self.Rejected(reviewer_id, feedback))

    def _on_Requested(self, e: Requested) -> None:
        self.course_id, self.org_id, self.author_id = e.course_id, e.org_id, e.author_id
        self.revision = e.revision

    def _on_ReviewerAssigned(self, e: ReviewerAssigned) -> None:
        self.reviewer_id = e.reviewer_id

    def _on_Commented(self, e: Commented) -> None:
        self.comments.append(Comment(e.comment_id, e.author_id, e.lesson_id, e.text))

    def _on_Approved(self, e: Approved) -> None:
        self.decision, self.reviewer_id, self.feedback = "approved", e.reviewer_id, e.feedback

    def _on_Rejected(self, e: Rejected) -> None:
        self.decision, self.reviewer_id, self.feedback = "rejected", e.reviewer_id, e.feedback
