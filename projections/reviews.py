"""Review rounds: the queue of courses awaiting review and each course's review history."""

from __future__ import annotations

from domain.course import Course
from domain.review import Review
from infra.eventlog import EventEnvelope
from projections.model import Projection, Row, Table, on

REVIEWS = Table(
    "reviews",
    columns=(
        ("review_id", "uuid NOT NULL"),
        ("course_id", "uuid NOT NULL"),
        ("org_id", "uuid NOT NULL"),
        ("author_id", "uuid NOT NULL"),
        ("revision", "text NOT NULL"),
        ("requested_by", "uuid NOT NULL"),
        ("requested_at", "timestamptz NOT NULL"),
        ("reviewer_id", "uuid"),
        ("status", "text NOT NULL"),  # open | approved | rejected
        ("feedback", "text NOT NULL"),
        ("decided_at", "timestamptz"),
        ("comments", "jsonb NOT NULL"),
    ),
    key=("review_id",),
    indexes=("(org_id, status, requested_at)", "(course_id, requested_at)"),
)
COURSES = Table(
    "courses",
    columns=(
        ("course_id", "uuid NOT NULL"),
        ("org_id", "uuid NOT NULL"),
        ("title", "text NOT NULL"),
        ("category", "text NOT NULL"),
    ),
    key=("course_id",),
)


class ReviewsProjection(Projection):
    name = "reviews"
    version = 1
    tables = (REVIEWS, COURSES)

    @on(Course.Created)
    async def course_created(self, e: Course.Created, env: EventEnvelope) -> None:
        row = {
            "course_id": env.stream_id,
            "org_id": e.org_id,
            "title": e.details.title,
            "category": e.details.category,
        }
        self.put("courses", row)

    @on(Course.DetailsEdited)
    async def course_edited(self, e: Course.DetailsEdited, env: EventEnvelope) -> None:
        row = await self.require("courses", env.stream_id, "course {key} was never created")
        row["title"], row["category"] = e.details.title, e.details.category
        self.put("courses", row)

    async def _review(self, env: EventEnvelope) -> Row:
        return await self.require("reviews", env.stream_id, "review {key} was never requested")

    @on(Review.Requested)
    async def requested(self, e: Review.Requested, env: EventEnvelope) -> None:
        self.put(
            "reviews",
            {
                "review_id": env.stream_id,
                "course_id": e.course_id,
                "org_id": e.org_id,
                "author_id": e.author_id,
                "revision": e.revision,
                "requested_by": e.requested_by,
                "requested_at": env.occurred_at,
                "reviewer_id": None,
                "status": "open",
                "feedback": "",
                "decided_at": None,
                "comments": [],
            },
        )

    @on(Review.ReviewerAssigned)
    async def assigned(self, e: Review.ReviewerAssigned, env: EventEnvelope) -> None:
        row = await self._review(env)
        row["reviewer_id"] = e.reviewer_id
        self.put("reviews", row)

    @on(Review.Commented)
    async def commented(self, e: Review.Commented, env: EventEnvelope) -> None:
        row = await self._review(env)
        row["comments"].append(
            {
                "comment_id": str(e.comment_id),
                "author_id": str(e.author_id),
                "lesson_id": str(e.lesson_id) if e.lesson_id else None,
                "text": e.text,
                "at": env.occurred_at,
            }
        )
        self.put("reviews", row)

    async def _decide(self, env: EventEnvelope, status: str, reviewer_id: object, feedback: str) -> None:
        row = await self._review(env)
        row.update(status=status, reviewer_id=reviewer_id, feedback=feedback)
        row["decided_at"] = env.occurred_at
        self.put("reviews", row)

    @on(Review.Approved)
    async def approved(self, e: Review.Approved, env: EventEnvelope) -> None:
        await self._decide(env, "approved", e.reviewer_id, e.feedback)

    @on(Review.Rejected)
    async def rejected(self, e: Review.Rejected, env: EventEnvelope) -> None:
        await self._decide(env, "rejected", e.reviewer_id, e.feedback)
