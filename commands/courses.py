"""Handlers of the course commands: authoring, review workflow, publication."""

from __future__ import annotations

from uuid import UUID

import msgspec

from commands.bus import Decided
from commands.errors import InvalidCoAuthor, NotAnAuthor
from commands.session import Session
from domain import errors
from domain.content import LessonContent
from domain.course import Course, Details
from domain.identity import User, UserNotFound
from domain.review import Review
from domain.seats import CourseSeats, seats_id
from schemas import commands as c
from schemas.access import AUTHORS, Reach


def _details(cmd: c.CourseDetails) -> Details:
    return Details(
        title=cmd.title.strip(),
        description=cmd.description,
        cefr_level=cmd.cefr_level,
        category=cmd.category.strip(),
        tags=tuple(dict.fromkeys(t.strip().lower() for t in cmd.tags)),
        capacity=cmd.capacity,
        prerequisites=tuple(cmd.prerequisites),
        public=cmd.public,
    )


def _course(course: Course, **data: object) -> Decided:
    return Decided(course, "course", dict(data))


async def _authored(s: Session, course_id: UUID) -> Course:
    """The course, if the caller may change it: one of its authors, or a caller whose
    permission reaches the whole organisation (course managers, admins). A deleted draft is
    gone for everyone."""
    course = await s.existing(Course, course_id)
    if course.status == "deleted":
        raise errors.CourseDeleted(f"course {course_id} not found")
    if s.reach is Reach.OWN and s.ctx.actor_id not in course.authors:
        raise NotAnAuthor("only the course's authors and its organisation's course managers and admins change it")
    return course


async def create_course(cmd: c.CreateCourse, s: Session) -> Decided:
    # A fresh random id cannot exist yet: only a client-chosen id needs the read.
    course = await s.load(Course, cmd.course_id) if cmd.course_id else s.track(Course.blank(s.ports.ids.new_id()))
    if course.exists:
        raise errors.CourseAlreadyExists(f"course {course.id} exists")
    details = _details(cmd)
    if details.prerequisites:
        prereqs = await s.load_many([(Course, p) for p in details.prerequisites])
        for p in prereqs:
            s.require_visible(p)
    course.create(s.ctx.org_id, s.ctx.actor_id, details)
    return _course(course)


async def edit_course(cmd: c.EditCourse, s: Session) -> Decided:
    course = await _authored(s, cmd.course_id)
    details = _details(cmd)
    for p in await s.load_many([(Course, p) for p in details.prerequisites]):
        s.require_visible(p)
    course.edit_details(details)
    return _course(course)


async def delete_course(cmd: c.DeleteCourse, s: Session) -> Decided:
    course = await _authored(s, cmd.course_id)
    course.delete()
    return _course(course)


async def add_co_author(cmd: c.AddCoAuthor, s: Session) -> Decided:
    course = await _leading(s, cmd.course_id)
    user = await s.load(User, cmd.user_id)
    assert course.org_id is not None
    roles = user.memberships.get(course.org_id) if user.exists else None
    if roles is None:
        raise UserNotFound(f"user {cmd.user_id} is not a member of the course's organisation")
    if not AUTHORS.intersection(roles):
        raise InvalidCoAuthor(f"a co-author writes courses: one of {', '.join(sorted(AUTHORS))}")
    course.add_co_author(cmd.user_id)
    return _course(course, co_authors=sorted(str(a) for a in course.co_authors))


async def remove_co_author(cmd: c.RemoveCoAuthor, s: Session) -> Decided:
    course = await _leading(s, cmd.course_id)
    course.remove_co_author(cmd.user_id)
    return _course(course, co_authors=sorted(str(a) for a in course.co_authors))


async def _leading(s: Session, course_id: UUID) -> Course:
    """The course, if the caller may name its co-authors: its author, not a co-author."""
    course = await _authored(s, course_id)
    if s.reach is Reach.OWN and s.ctx.actor_id != course.author_id:
        raise NotAnAuthor("co-authors are named by the course's author and its organisation's course managers")
    return course


async def add_module(cmd: c.AddModule, s: Session) -> Decided:
    course = await _authored(s, cmd.course_id)
    module_id = cmd.module_id or s.ports.ids.new_id()
    course.add_module(module_id, cmd.title.strip(), cmd.index)
    return _course(course, module_id=str(module_id))


async def rename_module(cmd: c.RenameModule, s: Session) -> Decided:
    course = await _authored(s, cmd.course_id)
    course.rename_module(cmd.module_id, cmd.title.strip())
    return _course(course)


async def reorder_modules(cmd: c.ReorderModules, s: Session) -> Decided:
    course = await _authored(s, cmd.course_id)
    course.reorder_modules(tuple(cmd.module_ids))
    return _course(course)


async def remove_module(cmd: c.RemoveModule, s: Session) -> Decided:
    course = await _authored(s, cmd.course_id)
    course.remove_module(cmd.module_id)
    return _course(course)


async def add_lesson(cmd: c.AddLesson, s: Session) -> Decided:
    course = await _authored(s, cmd.course_id)
    lesson_id = cmd.lesson_id or s.ports.ids.new_id()
    course.add_lesson(cmd.module_id, lesson_id, cmd.title.strip(), cmd.duration_minutes, cmd.index)
    return _course(course, lesson_id=str(lesson_id))


async def edit_lesson(cmd: c.EditLesson, s: Session) -> Decided:
    course = await _authored(s, cmd.course_id)
    course.edit_lesson(cmd.lesson_id, cmd.title.strip(), cmd.duration_minutes)
    return _course(course)


async def reorder_lessons(cmd: c.ReorderLessons, s: Session) -> Decided:
    course = await _authored(s, cmd.course_id)
    course.reorder_lessons(cmd.module_id, tuple(cmd.lesson_ids))
    return _course(course)


async def remove_lesson(cmd: c.RemoveLesson, s: Session) -> Decided:
    course = await _authored(s, cmd.course_id)
    course.remove_lesson(cmd.lesson_id)
    return _course(course)


def to_domain_content(content: c.LessonContent) -> LessonContent:
    return msgspec.convert(msgspec.to_builtins(content), LessonContent)


async def set_lesson_content(cmd: c.SetLessonContent, s: Session) -> Decided:
    course = await _authored(s, cmd.course_id)
    version = course.set_content(cmd.lesson_id, to_domain_content(cmd.content))
    return _course(course, content_version=version)


async def restore_lesson_content(cmd: c.RestoreLessonContent, s: Session) -> Decided:
    course = await _authored(s, cmd.course_id)
    version = course.restore_content(cmd.lesson_id, cmd.version)
    return _course(course, content_version=version, restored_from=cmd.version)


async def submit_course(cmd: c.SubmitCourse, s: Session) -> Decided:
    course = await _authored(s, cmd.course_id)
    review = s.track(Review.blank(s.ports.ids.new_id()))
    course.submit(review.id)
    assert course.org_id is not None and course.author_id is not None
    review.request(course.id, course.org_id, course.author_id, course.revision, s.ctx.actor_id)
    return _course(course, review_id=str(review.id))


async def assign_reviewer(cmd: c.AssignReviewer, s: Session) -> Decided:
    review = await s.existing(Review, cmd.review_id)
    assert review.course_id is not None
    course = await s.view(Course, review.course_id)
    if cmd.reviewer_id in course.authors:
        raise errors.SelfApproval("an author cannot review their own course")
    review.assign(cmd.reviewer_id)
    return Decided(review, "review")


async def comment_on_review(cmd: c.CommentOnReview, s: Session) -> Decided:
    review = await s.existing(Review, cmd.review_id)
    if cmd.lesson_id is not None:
        assert review.course_id is not None
        course = await s.existing(Course, review.course_id)
        course.lesson(cmd.lesson_id)
    comment_id = s.ports.ids.new_id()
    review.comment(comment_id, s.ctx.actor_id, cmd.lesson_id, cmd.text)
    return Decided(review, "review", {"comment_id": str(comment_id)})


async def _decide(review_id: UUID, s: Session) -> tuple[Review, Course]:
    review = await s.existing(Review, review_id)
    assert review.course_id is not None
    course = await s.existing(Course, review.course_id)
    return review, course


async def approve_course(cmd: c.ApproveCourse, s: Session) -> Decided:
    review, course = await _decide(cmd.review_id, s)
    review.approve(s.ctx.actor_id, cmd.feedback)
    course.approve(review.id, s.ctx.actor_id)
    return _course(course, review_id=str(review.id))


async def reject_course(cmd: c.RejectCourse, s: Session) -> Decided:
    review, course = await _decide(cmd.review_id, s)
    review.reject(s.ctx.actor_id, cmd.feedback)
    course.reject(review.id, s.ctx.actor_id, cmd.feedback, tuple(cmd.regenerate))
    return _course(course, review_id=str(review.id))


async def publish_course(cmd: c.PublishCourse, s: Session) -> Decided:
    course = await s.existing(Course, cmd.course_id)
    course.publish()
    assert course.live is not None
    capacity = course.live.details.capacity
    if capacity is not None:
        seats = await s.load(CourseSeats, seats_id(course.id))
        seats.open(course.id, capacity)
    return _course(course, revision=course.live.label)


async def unpublish_course(cmd: c.UnpublishCourse, s: Session) -> Decided:
    course = await s.existing(Course, cmd.course_id)
    course.unpublish()
    return _course(course)


async def archive_course(cmd: c.ArchiveCourse, s: Session) -> Decided:
    course = await s.existing(Course, cmd.course_id)
    course.archive()
    return _course(course)


async def start_revision(cmd: c.StartRevision, s: Session) -> Decided:
    course = await _authored(s, cmd.course_id)
    revision = course.start_revision(cmd.kind)
    return _course(course, revision=revision)
