"""Course commands: authoring, content versions, submission, publication, revisions; and the
module and lesson a command's `Location` names (the outline itself is gateway/queries.py's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.params import FromPath, JSONBody

from gateway.dispatch import CallerDep, ServicesDep, body, command_of, dispatch, route
from gateway.queries import Position, Revision
from projections import queries as rq
from schemas import commands as c
from schemas.readmodels import LessonView, ModuleView
from schemas.results import CommandResult

CreateCourseBody = body(c.CreateCourse)
EditCourseBody = body(c.EditCourse, "course_id")
AddModuleBody = body(c.AddModule, "course_id")
RenameModuleBody = body(c.RenameModule, "course_id", "module_id")
ReorderModulesBody = body(c.ReorderModules, "course_id")
AddLessonBody = body(c.AddLesson, "course_id", "module_id")
EditLessonBody = body(c.EditLesson, "course_id", "lesson_id")
ReorderLessonsBody = body(c.ReorderLessons, "course_id", "module_id")
SetLessonContentBody = body(c.SetLessonContent, "course_id", "lesson_id")
StartRevisionBody = body(c.StartRevision, "course_id")

Answer = Response[CommandResult]
Req = Request[Any, Any, Any]


def _course(r: CommandResult) -> str:
    return f"/courses/{r.id}"


def _in_draft(r: CommandResult, part: str) -> str:
    """Where a module or lesson just changed in the draft reads back: the read model is waited
    for up to the command's position, so the `Location` resolves at once."""
    return f"/courses/{r.id}/{part}?revision=draft&position={r.position}"


def _module(r: CommandResult) -> str:
    return _in_draft(r, f"modules/{r.data.get('module_id', '')}")


def _lesson(r: CommandResult) -> str:
    return _in_draft(r, f"lessons/{r.data.get('lesson_id', '')}")


def _content(lesson_id: FromPath[UUID]) -> Callable[[CommandResult], str]:
    """A content version is shown as its lesson's `content_version` and `content`."""
    return lambda r: _in_draft(r, f"lessons/{lesson_id}")


class CourseController(Controller):
    path = "/courses"
    tags = ["courses"]

    @route(post, "/", summary="Create a course (a draft in the caller's organisation)", status=201)
    async def create(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        data: JSONBody[CreateCourseBody],
    ) -> Answer:
        cmd = command_of(c.CreateCourse, data)
        return await dispatch(services, request, caller, cmd, status=201, location=_course)

    @route(put, "/{course_id:uuid}/details", summary="Edit the details of a draft or rejected course")
    async def edit(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        course_id: FromPath[UUID],
        data: JSONBody[EditCourseBody],
    ) -> Answer:
        cmd = command_of(c.EditCourse, data, course_id=course_id)
        return await dispatch(services, request, caller, cmd, location=_course)

    @route(delete, "/{course_id:uuid}/draft", summary="Delete a draft that was never published")
    async def delete_draft(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        course_id: FromPath[UUID],
    ) -> Answer:
        cmd = c.DeleteCourse(course_id=course_id)
        return await dispatch(services, request, caller, cmd, location=_course)

    @route(put, "/{course_id:uuid}/co-authors/{user_id:uuid}", summary="Make a colleague a co-author of the course")
    async def add_co_author(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        course_id: FromPath[UUID],
        user_id: FromPath[UUID],
    ) -> Answer:
        cmd = c.AddCoAuthor(course_id=course_id, user_id=user_id)
        return await dispatch(services, request, caller, cmd, location=_course)

    @route(delete, "/{course_id:uuid}/co-authors/{user_id:uuid}", summary="Remove a co-author from the course")
    async def remove_co_author(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        course_id: FromPath[UUID],
        user_id: FromPath[UUID],
    ) -> Answer:
        cmd = c.RemoveCoAuthor(course_id=course_id, user_id=user_id)
        return await dispatch(services, request, caller, cmd, location=_course)

    @route(post, "/{course_id:uuid}/modules", summary="Add a module", status=201)
    async def add_module(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        course_id: FromPath[UUID],
        data: JSONBody[AddModuleBody],
    ) -> Answer:
        cmd = command_of(c.AddModule, data, course_id=course_id)
        return await dispatch(
            services,
            request,
            caller,
            cmd,
            status=201,
            location=_module,
        )

    @route(get, "/{course_id:uuid}/modules/{module_id:uuid}", summary="One module of the course's outline", status=200)
    async def module(
        self,
        services: ServicesDep,
        caller: CallerDep,
        course_id: FromPath[UUID],
        module_id: FromPath[UUID],
        revision: Revision = "live",
        position: Position = None,
    ) -> ModuleView:
        draft = revision == "draft"
        return await rq.module_detail(services.reader, caller, course_id, module_id, draft=draft, position=position)

    @route(put, "/{course_id:uuid}/modules/{module_id:uuid}", summary="Rename a module")
    async def rename_module(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        course_id: FromPath[UUID],
        module_id: FromPath[UUID],
        data: JSONBody[RenameModuleBody],
    ) -> Answer:
        cmd = command_of(c.RenameModule, data, course_id=course_id, module_id=module_id)
        return await dispatch(services, request, caller, cmd, location=_course)

    @route(put, "/{course_id:uuid}/module-order", summary="Reorder the modules")
    async def reorder_modules(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        course_id: FromPath[UUID],
        data: JSONBody[ReorderModulesBody],
    ) -> Answer:
        cmd = command_of(c.ReorderModules, data, course_id=course_id)
        return await dispatch(services, request, caller, cmd, location=_course)

    @route(delete, "/{course_id:uuid}/modules/{module_id:uuid}", summary="Remove a module")
    async def remove_module(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        course_id: FromPath[UUID],
        module_id: FromPath[UUID],
    ) -> Answer:
        cmd = c.RemoveModule(course_id=course_id, module_id=module_id)
        return await dispatch(services, request, caller, cmd, location=_course)

    @route(
        post,
        "/{course_id:uuid}/modules/{module_id:uuid}/lessons",
        summary="Add a lesson",
        status=201,
    )
    async def add_lesson(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        course_id: FromPath[UUID],
        module_id: FromPath[UUID],
        data: JSONBody[AddLessonBody],
    ) -> Answer:
        cmd = command_of(c.AddLesson, data, course_id=course_id, module_id=module_id)
        return await dispatch(
            services,
            request,
            caller,
            cmd,
            status=201,
            location=_lesson,
        )

    @route(
        put,
        "/{course_id:uuid}/modules/{module_id:uuid}/lesson-order",
        summary="Reorder a module's lessons",
    )
    async def reorder_lessons(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        course_id: FromPath[UUID],
        module_id: FromPath[UUID],
        data: JSONBody[ReorderLessonsBody],
    ) -> Answer:
        cmd = command_of(c.ReorderLessons, data, course_id=course_id, module_id=module_id)
        return await dispatch(services, request, caller, cmd, location=_course)

    @route(
        put,
        "/{course_id:uuid}/lessons/{lesson_id:uuid}",
        summary="Edit a lesson's title and duration",
    )
    async def edit_lesson(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        course_id: FromPath[UUID],
        lesson_id: FromPath[UUID],
        data: JSONBody[EditLessonBody],
    ) -> Answer:
        cmd = command_of(c.EditLesson, data, course_id=course_id, lesson_id=lesson_id)
        return await dispatch(services, request, caller, cmd, location=_course)

    @route(get, "/{course_id:uuid}/lessons/{lesson_id:uuid}", summary="One lesson of the course's outline", status=200)
    async def lesson(
        self,
        services: ServicesDep,
        caller: CallerDep,
        course_id: FromPath[UUID],
        lesson_id: FromPath[UUID],
        revision: Revision = "live",
        position: Position = None,
    ) -> LessonView:
        draft = revision == "draft"
        return await rq.lesson_detail(services.reader, caller, course_id, lesson_id, draft=draft, position=position)

    @route(delete, "/{course_id:uuid}/lessons/{lesson_id:uuid}", summary="Remove a lesson")
    async def remove_lesson(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        course_id: FromPath[UUID],
        lesson_id: FromPath[UUID],
    ) -> Answer:
        cmd = c.RemoveLesson(course_id=course_id, lesson_id=lesson_id)
        return await dispatch(services, request, caller, cmd, location=_course)

    @route(
        post,
        "/{course_id:uuid}/lessons/{lesson_id:uuid}/content",
        summary="Store a new content version of a lesson",
        status=201,
    )
    async def set_content(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        course_id: FromPath[UUID],
        lesson_id: FromPath[UUID],
        data: JSONBody[SetLessonContentBody],
    ) -> Answer:
        cmd = command_of(c.SetLessonContent, data, course_id=course_id, lesson_id=lesson_id)
        return await dispatch(
            services,
            request,
            caller,
            cmd,
            status=201,
            location=_content(lesson_id),
        )

    @route(
        post,
        "/{course_id:uuid}/lessons/{lesson_id:uuid}/content/{version:int}/restore",
        summary="Make an earlier content version current again (as a new version)",
        status=201,
    )
    async def restore_content(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        course_id: FromPath[UUID],
        lesson_id: FromPath[UUID],
        version: FromPath[int],
    ) -> Answer:
        cmd = c.RestoreLessonContent(course_id=course_id, lesson_id=lesson_id, version=version)
        return await dispatch(
            services,
            request,
            caller,
            cmd,
            status=201,
            location=_content(lesson_id),
        )

    @route(post, "/{course_id:uuid}/submit", summary="Submit the course for review", status=201)
    async def submit(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        course_id: FromPath[UUID],
    ) -> Answer:
        return await dispatch(
            services,
            request,
            caller,
            c.SubmitCourse(course_id=course_id),
            status=201,
            location=lambda r: f"/reviews/{r.data.get('review_id', '')}?position={r.position}",
        )

    @route(post, "/{course_id:uuid}/publish", summary="Publish the approved revision (or relist an unpublished one)")
    async def publish(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        course_id: FromPath[UUID],
    ) -> Answer:
        cmd = c.PublishCourse(course_id=course_id)
        return await dispatch(services, request, caller, cmd, location=_course)

    @route(
        post,
        "/{course_id:uuid}/unpublish",
        summary="Take a published course out of the catalog (enrolled students keep access)",
    )
    async def unpublish(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        course_id: FromPath[UUID],
    ) -> Answer:
        cmd = c.UnpublishCourse(course_id=course_id)
        return await dispatch(services, request, caller, cmd, location=_course)

    @route(post, "/{course_id:uuid}/archive", summary="Archive a published course")
    async def archive(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        course_id: FromPath[UUID],
    ) -> Answer:
        cmd = c.ArchiveCourse(course_id=course_id)
        return await dispatch(services, request, caller, cmd, location=_course)

    @route(
        post,
        "/{course_id:uuid}/revisions",
        summary="Start a new major or minor revision",
        status=201,
    )
    async def start_revision(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        course_id: FromPath[UUID],
        data: JSONBody[StartRevisionBody],
    ) -> Answer:
        cmd = command_of(c.StartRevision, data, course_id=course_id)
        return await dispatch(
            services,
            request,
            caller,
            cmd,
            status=201,
            location=lambda r: f"/courses/{r.id}?revision=draft&position={r.position}",  # the new revision
        )
