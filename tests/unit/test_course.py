"""The Course aggregate while authored: details, modules, lessons and content versions."""

from __future__ import annotations

import copy
from collections.abc import Callable
from uuid import UUID, uuid4

import pytest

from domain import errors
from domain.content import LessonContent
from domain.course import CEFR_LEVELS, Course
from tests.unit import builders as b

# -- create ----------------------------------------------------------------------------------


def test_create_records_the_details_as_a_draft() -> None:
    course = Course.blank(uuid4())
    course.create(b.ORG, b.AUTHOR, b.details(capacity=12))
    assert b.recorded(course) == [Course.Created]
    assert course.status == "draft"
    assert (course.org_id, course.author_id) == (b.ORG, b.AUTHOR)
    assert course.details == b.details(capacity=12)
    assert (course.version, course.revision, course.live) == (1, "0.1", None)


@pytest.mark.parametrize("level", CEFR_LEVELS)
def test_every_cefr_level_from_a1_to_c2_is_accepted(level: str) -> None:
    course = Course.blank(uuid4())
    course.create(b.ORG, b.AUTHOR, b.details(cefr_level=level))
    assert course.details is not None and course.details.cefr_level == level


@pytest.mark.parametrize(
    "changes",
    [
        {"title": ""},
        {"title": "   "},
        {"cefr_level": "D1"},
        {"cefr_level": "a1"},
        {"cefr_level": "A0"},
        {"cefr_level": ""},
        {"capacity": 0},
        {"capacity": -5},
    ],
    ids=repr,
)
def test_create_rejects_invalid_details(changes: dict[str, object]) -> None:
    course = Course.blank(uuid4())
    with pytest.raises(errors.InvalidCourse):
        course.create(b.ORG, b.AUTHOR, b.details(**changes))
    assert not course.exists and course.pending == []


def test_capacity_of_one_and_no_capacity_are_valid() -> None:
    assert b.draft(capacity=1).details == b.details(capacity=1)
    assert b.draft(capacity=None).details == b.details(capacity=None)


def test_a_course_cannot_be_its_own_prerequisite() -> None:
    course = Course.blank(uuid4())
    with pytest.raises(errors.InvalidCourse, match="own prerequisite"):
        course.create(b.ORG, b.AUTHOR, b.details(prerequisites=(uuid4(), course.id)))
    assert not course.exists


def test_prerequisites_must_not_repeat() -> None:
    other = uuid4()
    with pytest.raises(errors.InvalidCourse):
        Course.blank(uuid4()).create(b.ORG, b.AUTHOR, b.details(prerequisites=(other, other)))


def test_other_courses_as_prerequisites_are_kept() -> None:
    first, second = uuid4(), uuid4()
    course = Course.blank(uuid4())
    course.create(b.ORG, b.AUTHOR, b.details(prerequisites=(first, second)))
    assert course.details is not None and course.details.prerequisites == (first, second)


def test_a_course_is_created_once() -> None:
    course = b.draft()
    course.collect()
    with pytest.raises(errors.CourseAlreadyExists):
        course.create(b.ORG, b.AUTHOR, b.details())
    assert course.pending == []


def test_a_course_that_does_not_exist_cannot_be_changed() -> None:
    course = Course.blank(uuid4())
    with pytest.raises(errors.CourseNotFound):
        course.add_module(uuid4(), "Basics")
    with pytest.raises(errors.CourseNotFound):
        course.submit(uuid4())
    with pytest.raises(errors.CourseNotFound):
        course.publish()


# -- editing details only while draft or rejected -------------------------------------------


def test_details_are_edited_in_a_draft() -> None:
    course = b.draft()
    course.collect()
    course.edit_details(b.details(title="Forklift safety II", tags=("safety",)))
    assert b.recorded(course) == [Course.DetailsEdited]
    assert course.details == b.details(title="Forklift safety II", tags=("safety",))


def test_editing_to_the_same_details_records_nothing() -> None:
    course = b.draft()
    course.collect()
    course.edit_details(b.details())
    assert course.pending == []


def test_details_are_edited_after_a_rejection() -> None:
    course = b.rejected()
    course.edit_details(b.details(description="Now with a summary"))
    assert course.details is not None and course.details.description == "Now with a summary"
    assert course.status == "rejected"


def test_edited_details_are_validated() -> None:
    course = b.draft()
    with pytest.raises(errors.InvalidCourse):
        course.edit_details(b.details(cefr_level="C3"))
    with pytest.raises(errors.InvalidCourse):
        course.edit_details(b.details(prerequisites=(course.id,)))
    assert course.details == b.details()


NOT_EDITABLE = ["in_review", "approved", "published", "archived"]


@pytest.mark.parametrize("state", NOT_EDITABLE)
def test_details_cannot_be_edited_outside_draft_and_rejected(state: str) -> None:
    course = b.STATES[state]()
    assert course.status == state
    course.collect()
    with pytest.raises(errors.CourseNotEditable):
        course.edit_details(b.details(title="Other"))
    assert course.pending == [] and course.details == b.details()


EDITS: dict[str, Callable[[Course, UUID, UUID], object]] = {
    "add_module": lambda c, m, lesson: c.add_module(uuid4(), "More"),
    "rename_module": lambda c, m, lesson: c.rename_module(m, "Renamed"),
    "reorder_modules": lambda c, m, lesson: c.reorder_modules((m,)),
    "remove_module": lambda c, m, lesson: c.remove_module(m),
    "add_lesson": lambda c, m, lesson: c.add_lesson(m, uuid4(), "More", 10),
    "edit_lesson": lambda c, m, lesson: c.edit_lesson(lesson, "Renamed", 20),
    "reorder_lessons": lambda c, m, lesson: c.reorder_lessons(m, (lesson,)),
    "remove_lesson": lambda c, m, lesson: c.remove_lesson(lesson),
    "set_content": lambda c, m, lesson: c.set_content(lesson, b.text("new")),
    "restore_content": lambda c, m, lesson: c.restore_content(lesson, 1),
}


@pytest.mark.parametrize("state", NOT_EDITABLE)
@pytest.mark.parametrize("edit", EDITS)
def test_structure_and_content_cannot_change_outside_draft_and_rejected(state: str, edit: str) -> None:
    course = b.STATES[state]()
    course.collect()
    before = copy.deepcopy(course.modules)
    module = course.modules[0]
    with pytest.raises(errors.CourseNotEditable):
        EDITS[edit](course, module.id, module.lessons[0].id)
    assert course.pending == [] and course.modules == before


@pytest.mark.parametrize("edit", EDITS)
def test_structure_and_content_change_after_a_rejection(edit: str) -> None:
    course = b.rejected()
    course.collect()
    module = course.modules[0]
    EDITS[edit](course, module.id, module.lessons[0].id)
    if edit not in ("reorder_modules", "reorder_lessons"):  # a one-item reorder changes nothing
        assert len(course.pending) == 1


def test_a_deleted_course_refuses_every_change() -> None:
    course = b.deleted()
    with pytest.raises(errors.CourseDeleted):
        course.edit_details(b.details(title="Back"))
    with pytest.raises(errors.CourseDeleted):
        course.add_module(uuid4(), "Basics")
    with pytest.raises(errors.CourseDeleted):
        course.submit(uuid4())
    with pytest.raises(errors.CourseDeleted):
        course.delete()


# -- modules ---------------------------------------------------------------------------------


def test_modules_are_added_at_the_end_or_at_an_index() -> None:
    course = b.draft()
    first, second, third, fourth = uuid4(), uuid4(), uuid4(), uuid4()
    course.add_module(first, "First")
    course.add_module(second, "Second")
    course.add_module(third, "Third", index=0)
    course.add_module(fourth, "Fourth", index=1)
    assert [m.id for m in course.modules] == [third, fourth, first, second]
    assert [m.title for m in course.modules] == ["Third", "Fourth", "First", "Second"]


def test_a_module_index_out_of_range_is_clamped() -> None:
    course = b.draft()
    first, last, front = uuid4(), uuid4(), uuid4()
    course.add_module(first, "First")
    course.add_module(last, "Last", index=99)
    course.add_module(front, "Front", index=-3)
    assert [m.id for m in course.modules] == [front, first, last]


def test_module_ids_are_unique() -> None:
    course = b.draft()
    module = uuid4()
    course.add_module(module, "Basics")
    course.collect()
    with pytest.raises(errors.InvalidCourse):
        course.add_module(module, "Again")
    assert course.pending == [] and len(course.modules) == 1


def test_module_titles_must_not_be_blank() -> None:
    course = b.draft()
    with pytest.raises(errors.InvalidCourse):
        course.add_module(uuid4(), " ")
    module = uuid4()
    course.add_module(module, "Basics")
    with pytest.raises(errors.InvalidCourse):
        course.rename_module(module, "")
    assert course.module(module).title == "Basics"


def test_a_module_is_renamed() -> None:
    course = b.draft()
    module = uuid4()
    course.add_module(module, "Basics")
    course.collect()
    course.rename_module(module, "Fundamentals")
    assert b.recorded(course) == [Course.ModuleRenamed]
    assert course.module(module).title == "Fundamentals"
    course.rename_module(module, "Fundamentals")
    assert course.pending == []


def test_unknown_modules_are_not_found() -> None:
    course = b.draft()
    with pytest.raises(errors.ModuleNotFound):
        course.rename_module(uuid4(), "x")
    with pytest.raises(errors.ModuleNotFound):
        course.remove_module(uuid4())
    with pytest.raises(errors.ModuleNotFound):
        course.add_lesson(uuid4(), uuid4(), "x", 10)
    with pytest.raises(errors.ModuleNotFound):
        course.reorder_lessons(uuid4(), ())


def test_modules_are_reordered() -> None:
    course, (m1, m2, m3) = b.with_modules(3)
    course.reorder_modules((m3, m1, m2))
    assert b.recorded(course) == [Course.ModulesReordered]
    assert [m.id for m in course.modules] == [m3, m1, m2]


def test_reordering_to_the_same_order_records_nothing() -> None:
    course, ids = b.with_modules(3)
    course.reorder_modules(tuple(ids))
    assert course.pending == []


@pytest.mark.parametrize(
    "order",
    [
        lambda m1, m2, m3: (m1, m2),  # one missing
        lambda m1, m2, m3: (m1, m2, m3, m1),  # one twice
        lambda m1, m2, m3: (m1, m1, m2),  # one twice, one missing
        lambda m1, m2, m3: (m1, m2, m3, uuid4()),  # one unknown
        lambda m1, m2, m3: (),
    ],
)
def test_a_module_reorder_must_name_each_module_exactly_once(
    order: Callable[..., tuple[object, ...]],
) -> None:
    course, ids = b.with_modules(3)
    with pytest.raises(errors.InvalidCourse):
        course.reorder_modules(order(*ids))
    assert [m.id for m in course.modules] == ids and course.pending == []


def test_removing_a_module_removes_its_lessons() -> None:
    course, module, lesson = b.with_lesson()
    course.collect()
    course.remove_module(module)
    assert b.recorded(course) == [Course.ModuleRemoved]
    assert course.modules == []
    with pytest.raises(errors.LessonNotFound):
        course.lesson(lesson)


# -- lessons ---------------------------------------------------------------------------------


def test_lessons_are_added_in_order_or_at_an_index() -> None:
    course, (module,) = b.with_modules(1)
    l1, l2, l3 = uuid4(), uuid4(), uuid4()
    course.add_lesson(module, l1, "One", 10)
    course.add_lesson(module, l2, "Two", 20)
    course.add_lesson(module, l3, "Three", 30, index=1)
    lessons = course.module(module).lessons
    assert [(x.id, x.title, x.duration_minutes) for x in lessons] == [
        (l1, "One", 10),
        (l3, "Three", 30),
        (l2, "Two", 20),
    ]
    assert all(x.content is None and x.versions == [] for x in lessons)


@pytest.mark.parametrize("minutes", [1, 45, 1440])
def test_lesson_durations_from_1_to_1440_minutes_are_valid(minutes: int) -> None:
    course, (module,) = b.with_modules(1)
    lesson = uuid4()
    course.add_lesson(module, lesson, "L", minutes)
    course.edit_lesson(lesson, "L", minutes)
    assert course.lesson(lesson)[1].duration_minutes == minutes


@pytest.mark.parametrize("minutes", [0, -1, 1441, 10_000])
def test_lesson_durations_outside_1_to_1440_are_rejected(minutes: int) -> None:
    course, (module,) = b.with_modules(1)
    with pytest.raises(errors.InvalidCourse):
        course.add_lesson(module, uuid4(), "L", minutes)
    lesson = uuid4()
    course.add_lesson(module, lesson, "L", 30)
    with pytest.raises(errors.InvalidCourse):
        course.edit_lesson(lesson, "L", minutes)
    assert course.lesson(lesson)[1].duration_minutes == 30


def test_lesson_ids_are_unique_across_the_course() -> None:
    course, (m1, m2) = b.with_modules(2)
    lesson = uuid4()
    course.add_lesson(m1, lesson, "L", 10)
    course.collect()
    with pytest.raises(errors.InvalidCourse):
        course.add_lesson(m1, lesson, "Again", 10)
    with pytest.raises(errors.InvalidCourse):
        course.add_lesson(m2, lesson, "Elsewhere", 10)
    assert course.pending == [] and course.module(m2).lessons == []


def test_lesson_titles_must_not_be_blank() -> None:
    course, module, lesson = b.with_lesson()
    with pytest.raises(errors.InvalidCourse):
        course.add_lesson(module, uuid4(), "  ", 10)
    with pytest.raises(errors.InvalidCourse):
        course.edit_lesson(lesson, "", 10)


def test_a_lesson_is_edited_and_an_unchanged_edit_records_nothing() -> None:
    course, _, lesson = b.with_lesson()
    course.collect()
    course.edit_lesson(lesson, "Daily checks", 25)
    assert b.recorded(course) == [Course.LessonEdited]
    found = course.lesson(lesson)[1]
    assert (found.title, found.duration_minutes) == ("Daily checks", 25)
    course.edit_lesson(lesson, "Daily checks", 25)
    assert course.pending == []


def test_unknown_lessons_are_not_found() -> None:
    course = b.with_lesson()[0]
    for change in (
        lambda: course.edit_lesson(uuid4(), "x", 10),
        lambda: course.remove_lesson(uuid4()),
        lambda: course.set_content(uuid4(), b.text()),
        lambda: course.restore_content(uuid4(), 1),
    ):
        with pytest.raises(errors.LessonNotFound):
            change()


def test_lessons_are_reordered_within_their_module() -> None:
    course, (module,) = b.with_modules(1)
    l1, l2, l3 = uuid4(), uuid4(), uuid4()
    for lesson in (l1, l2, l3):
        course.add_lesson(module, lesson, "L", 10)
    course.collect()
    course.reorder_lessons(module, (l2, l3, l1))
    assert b.recorded(course) == [Course.LessonsReordered]
    assert [x.id for x in course.module(module).lessons] == [l2, l3, l1]
    course.reorder_lessons(module, (l2, l3, l1))
    assert course.pending == []


def test_a_lesson_reorder_must_name_each_lesson_of_the_module_exactly_once() -> None:
    course, (m1, m2) = b.with_modules(2)
    l1, l2, other = uuid4(), uuid4(), uuid4()
    course.add_lesson(m1, l1, "L", 10)
    course.add_lesson(m1, l2, "L", 10)
    course.add_lesson(m2, other, "L", 10)
    course.collect()
    for order in [(l1,), (l1, l2, l1), (l1, l1), (l2, l1, other), (l1, other)]:
        with pytest.raises(errors.InvalidCourse):
            course.reorder_lessons(m1, order)
    assert [x.id for x in course.module(m1).lessons] == [l1, l2] and course.pending == []


def test_a_lesson_is_removed() -> None:
    course, module, lesson = b.with_lesson()
    course.collect()
    course.remove_lesson(lesson)
    assert b.recorded(course) == [Course.LessonRemoved]
    assert course.module(module).lessons == []


# -- content versions ------------------------------------------------------------------------


def test_each_content_change_is_a_new_version_and_old_ones_stay_readable() -> None:
    course, (module,) = b.with_modules(1)
    lesson = uuid4()
    course.add_lesson(module, lesson, "L", 10)
    first, second = b.text("first"), b.text("second")
    assert course.set_content(lesson, first) == 1
    assert course.set_content(lesson, second) == 2
    assert course.set_content(lesson, second) == 3  # the same document again is still a version
    found = course.lesson(lesson)[1]
    assert found.versions == [first, second, second]
    assert (found.current, found.content) == (3, second)
    recorded = [e for e in course.collect() if isinstance(e, Course.ContentVersioned)]
    assert [(e.version, e.content, e.restored_from) for e in recorded] == [
        (1, first, None),
        (2, second, None),
        (3, second, None),
    ]


def test_restoring_makes_a_new_version_equal_to_the_old_one() -> None:
    course, _, lesson = b.with_lesson()
    original = course.lesson(lesson)[1].versions[0]
    course.set_content(lesson, b.text("rewritten"))
    course.collect()
    assert course.restore_content(lesson, 1) == 3
    found = course.lesson(lesson)[1]
    assert found.versions == [original, b.text("rewritten"), original]
    assert (found.current, found.content) == (3, original)
    (event,) = course.collect()
    assert isinstance(event, Course.ContentVersioned)
    assert (event.version, event.restored_from, event.content) == (3, 1, original)


@pytest.mark.parametrize("version", [0, -1, 3, 99])
def test_restoring_a_missing_version_fails(version: int) -> None:
    course, _, lesson = b.with_lesson()
    course.set_content(lesson, b.text("second"))
    course.collect()
    with pytest.raises(errors.ContentVersionNotFound):
        course.restore_content(lesson, version)
    assert course.pending == [] and len(course.lesson(lesson)[1].versions) == 2


def test_a_lesson_without_content_has_no_version_to_restore() -> None:
    course, (module,) = b.with_modules(1)
    lesson = uuid4()
    course.add_lesson(module, lesson, "L", 10)
    with pytest.raises(errors.ContentVersionNotFound):
        course.restore_content(lesson, 1)


def test_invalid_content_is_not_stored() -> None:
    course, _, lesson = b.with_lesson()
    course.collect()
    with pytest.raises(errors.InvalidCourse):
        course.set_content(lesson, LessonContent())
    assert course.pending == [] and len(course.lesson(lesson)[1].versions) == 1
