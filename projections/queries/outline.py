"""One module or one lesson of a course's outline: what the `Location` of an added module,
lesson or content version names. The same view and the same rules as the whole outline."""

from __future__ import annotations

from uuid import UUID

from domain.errors import LessonNotFound, ModuleNotFound
from projections.queries.catalog import course_detail
from projections.queries.reader import Reader, Viewer
from schemas.readmodels import LessonView, ModuleView


async def module_detail(
    reader: Reader, viewer: Viewer, course_id: UUID, module_id: UUID, *, draft: bool, position: int | None
) -> ModuleView:
    outline = await course_detail(reader, viewer, course_id, draft=draft, position=position)
    for module in outline.modules:
        if module.module_id == str(module_id):
            return module
    raise ModuleNotFound(f"module {module_id} is not in this revision of course {course_id}")


async def lesson_detail(
    reader: Reader, viewer: Viewer, course_id: UUID, lesson_id: UUID, *, draft: bool, position: int | None
) -> LessonView:
    outline = await course_detail(reader, viewer, course_id, draft=draft, position=position)
    for module in outline.modules:
        for lesson in module.lessons:
            if lesson.lesson_id == str(lesson_id):
                return lesson
    raise LessonNotFound(f"lesson {lesson_id} is not in this revision of course {course_id}")
