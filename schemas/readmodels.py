"""Read-model DTOs: what the query endpoints answer (JSON via msgspec)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

Sort = Literal["relevance", "newest", "title", "popular"]
Period = Literal["day", "week", "month"]
# A course's status as its authors follow it (a deleted draft is listed nowhere).
CourseStatus = Literal["draft", "in_review", "approved", "rejected", "published", "archived"]


class CatalogItem(msgspec.Struct, kw_only=True):
    course_id: str
    org_id: str
    instructor_id: str
    title: str
    description: str
    category: str
    cefr_level: str
    tags: list[str]
    public: bool
    revision: str | None
    lessons: int
    minutes: int
    capacity: int | None
    enrollment_count: int
    published_at: datetime | None


class CatalogPage(msgspec.Struct, kw_only=True):
    items: list[CatalogItem]
    next_cursor: str | None
    position: int  # the catalog reflects the log at least up to here


class LessonView(msgspec.Struct, kw_only=True):
    lesson_id: str
    title: str
    duration_minutes: int
    content_version: int
    content: dict[str, Any] | None = None  # only for enrolled students, authors, reviewers, admins


class ModuleView(msgspec.Struct, kw_only=True):
    module_id: str
    title: str
    lessons: list[LessonView]


class CourseDetail(msgspec.Struct, kw_only=True):
    course_id: str
    org_id: str
    instructor_id: str  # the author, who created the course
    co_author_ids: list[str]
    status: str
    revision: str | None  # the published revision shown, or "draft"
    title: str
    description: str
    category: str
    cefr_level: str
    tags: list[str]
    capacity: int | None
    public: bool
    prerequisites: list[str]
    enrollment_count: int
    published_at: datetime | None
    listed: bool = False  # in the catalog: published, not unpublished or archived
    bodies: bool  # whether lesson content is included
    modules: list[ModuleView]
    position: int


class ReviewComment(msgspec.Struct, kw_only=True):
    comment_id: str
    author_id: str
    lesson_id: str | None
    text: str
    at: datetime


class ReviewView(msgspec.Struct, kw_only=True):
    review_id: str
    course_id: str
    course_title: str
    revision: str
    author_id: str
    requested_by: str
    requested_at: datetime
    reviewer_id: str | None
    status: str
    feedback: str
    decided_at: datetime | None
    comments: list[ReviewComment]


class ReviewList(msgspec.Struct, kw_only=True):
    items: list[ReviewView]
    position: int


class QuizResult(msgspec.Struct, kw_only=True):
    lesson_id: str
    assessment_id: str
    attempt: int
    score: int
    max_score: int
    passed: bool
    at: datetime


class LessonProgress(msgspec.Struct, kw_only=True):
    lesson_id: str
    title: str
    completed_at: datetime | None


class ModuleProgress(msgspec.Struct, kw_only=True):
    module_id: str
    title: str
    progress: float
    completed_at: datetime | None
    lessons: list[LessonProgress]


class FeedbackView(msgspec.Struct, kw_only=True):
    """A trainer's feedback on a lesson of the enrolment, or on one quiz of it."""

    feedback_id: str
    trainer_id: str
    lesson_id: str
    assessment_id: str | None
    text: str
    at: datetime


class EnrollmentProgress(msgspec.Struct, kw_only=True):
    course_id: str
    course_title: str
    student_id: str
    status: str
    round: int
    revision: str
    enrolled_at: datetime
    completed_at: datetime | None
    dropped_at: datetime | None
    last_activity: datetime
    lessons_done: int
    lessons_total: int
    progress: float
    cohort_id: str | None = None
    archived: bool = False  # hidden from the student's own list
    modules: list[ModuleProgress] | None = None
    quizzes: list[QuizResult] | None = None
    feedback: list[FeedbackView] | None = None


class ProgressList(msgspec.Struct, kw_only=True):
    items: list[EnrollmentProgress]
    position: int


class PeriodCount(msgspec.Struct, kw_only=True):
    start: date
    enrolled: int
    completed: int
    dropped: int


class PopularCourse(msgspec.Struct, kw_only=True):
    course_id: str
    title: str
    learners: int


class AtRisk(msgspec.Struct, kw_only=True):
    student_id: str
    course_id: str
    progress: float
    last_activity: datetime
    days_inactive: float


class QuizBucket(msgspec.Struct, kw_only=True):
    low: int  # percent of the maximum score, bucket [low, low + 10), 100 alone
    attempts: int
    passed: int


class Analytics(msgspec.Struct, kw_only=True):
    org_id: str
    course_id: str | None
    students: int
    instructors: int
    published_courses: int
    learners: int  # enrolments (current round of each) counted
    active: int
    completed: int
    dropped: int
    completion_rate: float
    drop_rate: float
    avg_days_to_complete: float | None
    period: Period
    enrollments: list[PeriodCount]
    popular_courses: list[PopularCourse]
    at_risk: list[AtRisk]
    quiz_scores: list[QuizBucket]
    position: int


class AuthoredCourse(msgspec.Struct, kw_only=True):
    """A course the caller writes, as its author or a co-author."""

    course_id: str
    title: str  # of the working draft
    status: str
    revision: str | None  # the published revision, if any
    author_id: str
    co_author_ids: list[str]
    updated_at: datetime


class AuthoredList(msgspec.Struct, kw_only=True):
    items: list[AuthoredCourse]
    position: int


class CohortView(msgspec.Struct, kw_only=True):
    """A group of enrolments in one course that start together, and its trainers."""

    cohort_id: str
    course_id: str
    course_title: str
    org_id: str
    name: str
    starts_on: date
    trainer_ids: list[str]
    students: int
    created_at: datetime


class CohortList(msgspec.Struct, kw_only=True):
    items: list[CohortView]
    position: int


class CohortDetail(msgspec.Struct, kw_only=True):
    cohort: CohortView
    students: list[EnrollmentProgress]  # the progress of each enrolment in the cohort
    position: int


class PathStepView(msgspec.Struct, kw_only=True):
    course_id: str
    title: str
    requires: list[str]  # courses of earlier steps to complete first


class LearningPathView(msgspec.Struct, kw_only=True):
    path_id: str
    org_id: str
    title: str
    description: str
    steps: list[PathStepView]
    created_at: datetime
    updated_at: datetime


class LearningPathList(msgspec.Struct, kw_only=True):
    items: list[LearningPathView]
    position: int


PathStepStatus = Literal["not_enrolled", "active", "completed", "dropped"]


class PathStepProgress(msgspec.Struct, kw_only=True):
    course_id: str
    title: str
    requires: list[str]
    status: PathStepStatus  # of the student's enrolment in the course
    progress: float  # of its current round, 0 to 100
    completed: bool  # some round of it was completed (what prerequisites ask)
    missing: list[str]  # prerequisites not completed yet: enrolling is refused until they are


class PathProgress(msgspec.Struct, kw_only=True):
    path_id: str
    title: str
    student_id: str
    courses: int
    completed: int
    progress: float  # percentage of the path's courses completed
    next_course_id: str | None  # the first course not completed whose prerequisites are
    steps: list[PathStepProgress]
    position: int


# -- queries of the messaging API (the HTTP API takes the same as path and query parameters) ----


class ReadModelQuery(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    position: Annotated[int, msgspec.Meta(ge=0)] | None = None  # wait (bounded) until the read model applied it


class ListCohorts(ReadModelQuery, kw_only=True, frozen=True):
    """The cohorts the caller sees: every one of the organisation for managers, else those they train."""

    course_id: UUID | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 200


class GetCohort(ReadModelQuery, kw_only=True, frozen=True):
    cohort_id: UUID


class ListLearningPaths(ReadModelQuery, kw_only=True, frozen=True):
    """The learning paths of the caller's organisation."""


class GetPathProgress(ReadModelQuery, kw_only=True, frozen=True):
    path_id: UUID
    student_id: UUID | None = None  # default: the caller


# -- the read-model questions of the messaging API (each HTTP query's parameters, as a body) ------

Revision = Literal["live", "draft"]  # the published revision, or the draft


class SearchCatalog(ReadModelQuery, kw_only=True, frozen=True):
    """Published courses of the caller's organisation and public ones (`GET /catalog`)."""

    q: Annotated[str, msgspec.Meta(max_length=200)] | None = None  # full-text search
    category: str | None = None
    cefr: list[str] = []  # any of
    tag: list[str] = []  # all of
    instructor: UUID | None = None
    sort: Sort | None = None
    cursor: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=100)] = 20


class GetCourse(ReadModelQuery, kw_only=True, frozen=True):
    """A course's outline; lesson bodies for learners, authors and reviewers."""

    course_id: UUID
    revision: Revision = "live"


class GetModule(ReadModelQuery, kw_only=True, frozen=True):
    course_id: UUID
    module_id: UUID
    revision: Revision = "live"


class GetLesson(ReadModelQuery, kw_only=True, frozen=True):
    course_id: UUID
    lesson_id: UUID
    revision: Revision = "live"


class ListCourseReviews(ReadModelQuery, kw_only=True, frozen=True):
    """The course's review rounds, newest first."""

    course_id: UUID


class GetReview(ReadModelQuery, kw_only=True, frozen=True):
    review_id: UUID


class ListReviewQueue(ReadModelQuery, kw_only=True, frozen=True):
    """Courses awaiting review in the caller's organisation (managers)."""

    mine: bool = False
    limit: Annotated[int, msgspec.Meta(ge=1, le=500)] = 50


class GetStudentProgress(ReadModelQuery, kw_only=True, frozen=True):
    course_id: UUID
    student_id: UUID


class ListMyCourses(ReadModelQuery, kw_only=True, frozen=True):
    """The caller's enrolments with progress (those they archived with `archived`)."""

    archived: bool = False


class ListAuthoredCourses(ReadModelQuery, kw_only=True, frozen=True):
    """The courses the caller authors or co-authors in any of these statuses."""

    status: Annotated[list[CourseStatus], msgspec.Meta(min_length=1)]


class GetMyCourse(ReadModelQuery, kw_only=True, frozen=True):
    course_id: UUID


class ListStudents(ReadModelQuery, kw_only=True, frozen=True):
    """Students of the caller's courses (all of the organisation's for managers)."""

    course_id: UUID | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 200


class AnalyticsQuestion(ReadModelQuery, kw_only=True, frozen=True):
    period: Period = "week"
    since: date | None = None
    until: date | None = None
    at_risk_days: Annotated[int, msgspec.Meta(ge=1, le=365)] = 14
    at_risk_below: Annotated[float, msgspec.Meta(ge=0, le=100)] = 50.0
    as_of: datetime | None = None


class GetCourseAnalytics(AnalyticsQuestion, kw_only=True, frozen=True):
    course_id: UUID


class GetOrganisationAnalytics(AnalyticsQuestion, kw_only=True, frozen=True):
    top: Annotated[int, msgspec.Meta(ge=1, le=50)] = 5


class GetLearningPath(ReadModelQuery, kw_only=True, frozen=True):
    path_id: UUID
