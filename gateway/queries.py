"""Read-model query endpoints: catalog, course detail, reviews, progress, analytics.

Thin: parse the query string, hand the caller to `projections.queries`, return its answer.
Every endpoint takes `?position=N` (a position a command returned) and then answers from a
read model that has applied at least that event, or fails with `ProjectionBehind` after a
bounded wait.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter

from gateway.auth import Caller
from gateway.operators import require_operator
from gateway.problems import PROBLEMS
from gateway.services import Services
from projections import queries as rq
from projections.metrics import record_lag
from projections.status import ProjectionLag, projection_lag
from schemas.readmodels import (
    Analytics,
    AuthoredList,
    CatalogPage,
    CourseDetail,
    CourseStatus,
    EnrollmentProgress,
    Period,
    ProgressList,
    ReviewList,
    ReviewView,
    Sort,
)

JSON = "application/json"
ServicesDep = NamedDependency[Services]
CallerDep = NamedDependency[Caller]
Position = Annotated[
    int | None,
    QueryParameter(ge=0, description="wait (bounded) until the read model applied this log position"),
]

Revision = Annotated[str, QueryParameter(pattern="^(live|draft)$", description="the published revision, or the draft")]


class CatalogController(Controller):
    path = "/catalog"
    tags = ["queries"]

    @get("/", summary="Published courses of the caller's organisation and public ones")
    async def catalog(
        self,
        services: ServicesDep,
        caller: CallerDep,
        q: Annotated[str | None, QueryParameter(max_length=200, description="full-text search")] = None,
        category: FromQuery[str | None] = None,
        cefr: Annotated[list[str] | None, QueryParameter(description="CEFR levels, any of")] = None,
        tag: Annotated[list[str] | None, QueryParameter(description="tags, all of")] = None,
        instructor: FromQuery[UUID | None] = None,
        sort: FromQuery[Sort | None] = None,
        cursor: Annotated[str | None, QueryParameter(max_length=500)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
        position: Position = None,
    ) -> Response[CatalogPage]:
        query = rq.CatalogQuery(
            q=q,
            category=category,
            cefr=tuple(cefr or ()),
            tags=tuple(tag or ()),
            instructor=instructor,
            sort=sort,
            cursor=cursor,
            limit=limit,
        )
        body = await rq.catalog_json(services.reader, caller, query, position=position)
        return Response(body, media_type=JSON)  # type: ignore[arg-type]


class CourseQueryController(Controller):
    path = "/courses/{course_id:uuid}"
    tags = ["queries"]

    @get("/", summary="A course's outline; lesson bodies for learners, authors and reviewers")
    async def detail(
        self,
        services: ServicesDep,
        caller: CallerDep,
        course_id: FromPath[UUID],
        revision: Revision = "live",
        position: Position = None,
    ) -> Response[CourseDetail]:
        body = await rq.course_detail_json(
            services.reader, caller, course_id, draft=revision == "draft", position=position
        )
        return Response(body, media_type=JSON)  # type: ignore[arg-type]

    @get("/reviews", summary="The course's review rounds, newest first")
    async def reviews(
        self, services: ServicesDep, caller: CallerDep, course_id: FromPath[UUID], position: Position = None
    ) -> ReviewList:
        return await rq.review_history(services.reader, caller, course_id, position=position)

    @get("/students/{student_id:uuid}/progress", summary="A student's progress in the course")
    async def student_progress(
        self,
        services: ServicesDep,
        caller: CallerDep,
        course_id: FromPath[UUID],
        student_id: FromPath[UUID],
        position: Position = None,
    ) -> EnrollmentProgress:
        return await rq.my_course(services.reader, caller, course_id, student_id=student_id, position=position)

    @get("/analytics", summary="Measures of one course")
    async def analytics(
        self,
        services: ServicesDep,
        caller: CallerDep,
        course_id: FromPath[UUID],
        period: FromQuery[Period] = "week",
        since: FromQuery[date | None] = None,
        until: FromQuery[date | None] = None,
        at_risk_days: Annotated[int, QueryParameter(ge=1, le=365)] = 14,
        at_risk_below: Annotated[float, QueryParameter(ge=0, le=100)] = 50.0,
        as_of: FromQuery[datetime | None] = None,
        position: Position = None,
    ) -> Analytics:
        query = rq.AnalyticsQuery(
            period=period, since=since, until=until, at_risk_days=at_risk_days,
            at_risk_below=at_risk_below, as_of=as_of,
        )  # fmt: skip
        return await rq.course_analytics(services.reader, caller, course_id, query, position=position)


class ReviewQueueController(Controller):
    path = "/review-queue"
    tags = ["queries"]

    @get("/", summary="Courses awaiting review in the caller's organisation (managers)")
    async def queue(
        self,
        services: ServicesDep,
        caller: CallerDep,
        mine: FromQuery[bool] = False,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
        position: Position = None,
    ) -> ReviewList:
        return await rq.review_queue(services.reader, caller, mine=mine, limit=limit, position=position)


class MyCoursesController(Controller):
    path = "/me/courses"
    tags = ["queries"]

    @get(
        "/",
        summary="The caller's enrolments with progress; with ?status=, the courses they write",
        description="Without `status`: the caller's enrolments, with progress per module and lesson "
        "(those they archived only with `archived=true`). "
        "With `status` (draft, in_review, ...; repeat it for several): the courses the caller authors or "
        "co-authors in one of those statuses.",
    )
    async def mine(
        self,
        services: ServicesDep,
        caller: CallerDep,
        status: Annotated[
            list[CourseStatus] | None, QueryParameter(description="the courses the caller writes in any of these")
        ] = None,
        archived: Annotated[bool, QueryParameter(description="the enrolments the caller archived instead")] = False,
        position: Position = None,
    ) -> ProgressList | AuthoredList:
        if status:
            return await rq.authored_courses(services.reader, caller, status=status, position=position)
        return await rq.my_courses(services.reader, caller, archived=archived, position=position)

    @get("/{course_id:uuid}", summary="The caller's progress in one course, quizzes included")
    async def one(
        self, services: ServicesDep, caller: CallerDep, course_id: FromPath[UUID], position: Position = None
    ) -> EnrollmentProgress:
        return await rq.my_course(services.reader, caller, course_id, position=position)


class TeachingController(Controller):
    path = "/students"
    tags = ["queries"]

    @get("/", summary="Students of the caller's courses (all of the organisation's for managers)")
    async def students(
        self,
        services: ServicesDep,
        caller: CallerDep,
        course_id: FromQuery[UUID | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 200,
        position: Position = None,
    ) -> ProgressList:
        return await rq.instructor_students(
            services.reader, caller, course_id=course_id, limit=limit, position=position
        )


class AnalyticsController(Controller):
    path = "/analytics"
    tags = ["queries"]

    @get("/organisation", summary="Measures of the caller's organisation")
    async def organisation(
        self,
        services: ServicesDep,
        caller: CallerDep,
        period: FromQuery[Period] = "week",
        since: FromQuery[date | None] = None,
        until: FromQuery[date | None] = None,
        at_risk_days: Annotated[int, QueryParameter(ge=1, le=365)] = 14,
        at_risk_below: Annotated[float, QueryParameter(ge=0, le=100)] = 50.0,
        top: Annotated[int, QueryParameter(ge=1, le=50)] = 5,
        as_of: FromQuery[datetime | None] = None,
        position: Position = None,
    ) -> Analytics:
        query = rq.AnalyticsQuery(
            period=period, since=since, until=until, at_risk_days=at_risk_days,
            at_risk_below=at_risk_below, top=top, as_of=as_of,
        )  # fmt: skip
        return await rq.org_analytics(services.reader, caller, query, position=position)


class ReviewQueryController(Controller):
    path = "/reviews"
    tags = ["queries"]

    @get("/{review_id:uuid}", summary="One review round and its comments (authors, managers, admins)")
    async def review(
        self, services: ServicesDep, caller: CallerDep, review_id: FromPath[UUID], position: Position = None
    ) -> ReviewView:
        return await rq.review_detail(services.reader, caller, review_id, position=position)


class ProjectionStatusController(Controller):
    path = "/projections"
    tags = ["system"]

    @get(
        "/",
        summary="Checkpoint, lag (events and seconds) and parked events of each read model",
        description="For operators: a platform admin's access token, or CW_METRICS_TOKEN as a bearer token.",
        responses={status: PROBLEMS[status] for status in (401, 403)},
    )
    async def status(self, request: Request[Any, Any, Any], services: ServicesDep) -> list[ProjectionLag]:
        await require_operator(request, services.settings)
        lags = await projection_lag(services.pool)
        for lag in lags:  # also as gauges, for /metrics of a process that runs no projector
            record_lag(lag.projection, lag.events, lag.seconds)
        return lags


QUERY_ROUTES: list[Any] = [
    ProjectionStatusController,
    CatalogController,
    CourseQueryController,
    ReviewQueueController,
    ReviewQueryController,
    MyCoursesController,
    TeachingController,
    AnalyticsController,
]
