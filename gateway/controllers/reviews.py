"""Review commands: assign a reviewer, comment, approve, reject."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, post, put
from litestar.params import FromPath, JSONBody

from gateway.dispatch import CallerDep, ServicesDep, body, command_of, dispatch, route
from schemas import commands as c
from schemas.results import CommandResult

AssignReviewerBody = body(c.AssignReviewer, "review_id")
CommentOnReviewBody = body(c.CommentOnReview, "review_id")
ApproveCourseBody = body(c.ApproveCourse, "review_id")
RejectCourseBody = body(c.RejectCourse, "review_id")

Answer = Response[CommandResult]
Req = Request[Any, Any, Any]


class ReviewController(Controller):
    path = "/reviews"
    tags = ["reviews"]

    @route(put, "/{review_id:uuid}/reviewer", summary="Assign the reviewer who decides")
    async def assign(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        review_id: FromPath[UUID],
        data: JSONBody[AssignReviewerBody],
    ) -> Answer:
        cmd = command_of(c.AssignReviewer, data, review_id=review_id)
        return await dispatch(
            services, request, caller, cmd, location=lambda r: f"/reviews/{review_id}?position={r.position}"
        )

    @route(
        post,
        "/{review_id:uuid}/comments",
        summary="Comment on the review (or one lesson)",
        status=201,
    )
    async def comment(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        review_id: FromPath[UUID],
        data: JSONBody[CommentOnReviewBody],
    ) -> Answer:
        cmd = command_of(c.CommentOnReview, data, review_id=review_id)
        return await dispatch(
            services,
            request,
            caller,
            cmd,
            status=201,
            location=lambda r: f"/reviews/{review_id}?position={r.position}",  # comments are in the review
        )

    @route(post, "/{review_id:uuid}/approve", summary="Approve the revision under review")
    async def approve(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        review_id: FromPath[UUID],
        data: JSONBody[ApproveCourseBody],
    ) -> Answer:
        cmd = command_of(c.ApproveCourse, data, review_id=review_id)
        return await dispatch(
            services, request, caller, cmd, location=lambda r: f"/reviews/{review_id}?position={r.position}"
        )

    @route(post, "/{review_id:uuid}/reject", summary="Reject the revision with feedback")
    async def reject(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        review_id: FromPath[UUID],
        data: JSONBody[RejectCourseBody],
    ) -> Answer:
        cmd = command_of(c.RejectCourse, data, review_id=review_id)
        return await dispatch(
            services, request, caller, cmd, location=lambda r: f"/reviews/{review_id}?position={r.position}"
        )
