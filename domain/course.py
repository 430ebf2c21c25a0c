"""The Course aggregate: details, modules, lessons, versioned content, review and publication."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from uuid import UUID

from domain import errors
from domain.aggregate import Aggregate, Event
from domain.content import LessonContent

CEFR_LEVELS = ("A1", "A2", "B1", "B2", "C1", "C2")
Status = Literal["draft", "in_review", "approved", "rejected", "published", "archived", "deleted"]
EDITABLE: tuple[Status, ...] = ("draft", "rejected")


@dataclass(frozen=True)
class Details:
    title: str
    description: str
    cefr_level: str
    category: str
    tags: tuple[str, ...] = ()
    capacity: int | None = None
    prerequisites: tuple[UUID, ...] = ()
    public: bool = False


@dataclass
class Lesson:
    id: UUID
    title: str
    duration_minutes: int
    versions: list[LessonContent] = field(default_factory=list)
    current: int = 0  # 1-based number of the current content version, 0 for none

    @property
    def content(self) -> LessonContent | None:
        return self.versions[self.current - 1] if self.current else None


@dataclass
class Module:
    id: UUID
    title: str
    lessons: list[Lesson] = field(default_factory=list)


@dataclass
class Revision:
    """A published snapshot: what students see while authors work on the next revision."""

    major: int
    minor: int
    details: Details
    modules: list[Module]

    @property
    def label(self) -> str:
        return f"{self.major}.{self.minor}"

    def lesson(self, lesson_id: UUID) -> tuple[Module, Lesson]:
        for m in self.modules:
            for lesson in m.lessons:
                if lesson.id == lesson_id:
                    return m, lesson
        raise errors.LessonNotFound(f"lesson {lesson_id} is not in revision {self.label}")


def _snapshot(modules: list[Module]) -> list[Module]:
    """A copy of the outline that later edits cannot reach (content versions are immutable)."""
    return [
        Module(
            m.id, m.title, [Lesson(x.id, x.title, x.duration_minutes, list(x.versions), x.current) for x in m.lessons]
        )
        for m in modules
    ]


def _validate_details(d: Details, course_id: UUID) -> None:
    if not d.title.strip():
        raise errors.InvalidCourse("title must not be empty")
    if d.cefr_level not in CEFR_LEVELS:
        raise errors.InvalidCourse(f"cefr_level must be one of {', '.join(CEFR_LEVELS)}")
    if d.capacity is not None and d.capacity < 1:
        raise errors.InvalidCourse("capacity must be at least 1")
    if course_id in d.prerequisites:
        raise errors.InvalidCourse("a course cannot be its own prerequisite")
    if len(set(d.prerequisites)) != len(d.prerequisites):
        raise errors.InvalidCourse("prerequisites repeat")


def _validate_duration(minutes: int) -> None:
    if not 1 <= minutes <= 24 * 60:
        raise errors.InvalidCourse("duration_minutes must be between 1 and 1440")


class Course(Aggregate):
    @dataclass(frozen=True)
    class Created(Event):
        org_id: UUID
        author_id: UUID
        details: Details

    @dataclass(frozen=True)
    class DetailsEdited(Event):
        details: Details

    @dataclass(frozen=True)
    class ModuleAdded(Event):
        module_id: UUID
        title: str
        index: int

    @dataclass(frozen=True)
    class ModuleRenamed(Event):
        module_id: UUID
        title: str

    @dataclass(frozen=True)
    class ModulesReordered(Event):
        module_ids: tuple[UUID, ...]

    @dataclass(frozen=True)
    class ModuleRemoved(Event):
        module_id: UUID

    @dataclass(frozen=True)
    class LessonAdded(Event):
        module_id: UUID
        lesson_id: UUID
        title: str
        duration_minutes: int
        index: int

    @dataclass(frozen=True)
    class LessonEdited(Event):
        lesson_id: UUID
        title: str
        duration_minutes: int

    @dataclass(frozen=True)
    class LessonsReordered(Event):
        module_id: UUID
        lesson_ids: tuple[UUID, ...]

    @dataclass(frozen=True)
    class LessonRemoved(Event):
        lesson_id: UUID

    @dataclass(frozen=True)
    class ContentVersioned(Event):
        lesson_id: UUID
        version: int
        content: LessonContent
        restored_from: int | None = None

    @dataclass(frozen=True)
    class Submitted(Event):
        review_id: UUID
        revision: str

    @dataclass(frozen=True)
    class Approved(Event):
        review_id: UUID
        reviewer_id: UUID

    @dataclass(frozen=True)
    class Rejected(Event):
        review_id: UUID
        reviewer_id: UUID
        feedback: str
        # Lessons the reviewer asks the generation pipeline to write again, the feedback as an
        # extra instruction (a course the pipeline did not write ignores it).
        regenerate: tuple[UUID, ...] = ()

    @dataclass(frozen=True)
    class Published(Event):
        major: int
        minor: int

    @dataclass(frozen=True)
    class Unpublished(Event):
        """Taken out of the catalog: no new enrolments; enrolled students keep their access."""

    @dataclass(frozen=True)
    class Republished(Event):
        """Back in the catalog with the revision it had."""

    @dataclass(frozen=True)
    class Archived(Event):
        pass

    @dataclass(frozen=True)
    class Deleted(Event):
        pass

    @dataclass(frozen=True)
    class CoAuthorAdded(Event):
        user_id: UUID

    @dataclass(frozen=True)
    class CoAuthorRemoved(Event):
        user_id: UUID

    @dataclass(frozen=True)
    class RevisionStarted(Event):
        major: int
        minor: int
        kind: Literal["major", "minor"]

    def _init_state(self) -> None:
        self.org_id: UUID | None = None
        self.author_id: UUID | None = None
        self.co_authors: frozenset[UUID] = frozenset()
        self.details: Details | None = None
        self.status: Status = "draft"
        self.modules: list[Module] = []
        self.major, self.minor = 0, 1
        self.live: Revision | None = None
        self.published: dict[str, Revision] = {}  # every revision ever published, by label
        self.review_id: UUID | None = None
        self.feedback: str | None = None
        self.unlisted = False  # unpublished: out of the catalog, closed to new enrolments

    # -- queries -----------------------------------------------------------------------------

    @property
    def authors(self) -> frozenset[UUID]:
        """Who writes the course: its author (who created it) and its co-authors."""
        return self.co_authors | {self.author_id} if self.author_id else self.co_authors

    @property
    def revision(self) -> str:
        return f"{self.major}.{self.minor}"

    def module(self, module_id: UUID) -> Module:
        for m in self.modules:
            if m.id == module_id:
                return m
        raise errors.ModuleNotFound(f"module {module_id} not found")

    def lesson(self, lesson_id: UUID) -> tuple[Module, Lesson]:
        for m in self.modules:
            for lesson in m.lessons:
                if lesson.id == lesson_id:
                    return m, lesson
        raise errors.LessonNotFound(f"lesson {lesson_id} not found")

    def published_revision(self, label: str) -> Revision:
        """The revision published as `label` (what an enrolment in it learns from)."""
        try:
            return self.published[label]
        except KeyError:
            raise errors.CourseNotPublished(f"revision {label} of course {self.id} was never published") from None

    def _lesson_ids(self) -> set[UUID]:
        return {lesson.id for m in self.modules for lesson in m.lessons}

    def _require_exists(self) -> None:
        if not self.exists:
            raise errors.CourseNotFound(f"course {self.id} not found")
        if self.status == "deleted":
            raise errors.CourseDeleted(f"course {self.id} not found")

    def _require_editable(self) -> None:
        self._require_exists()
        if self.status not in EDITABLE:
            raise errors.CourseNotEditable(f"course is {self.status}; edits need draft or rejected")

    # -- decisions ---------------------------------------------------------------------------

    def create(self, org_id: UUID, author_id: UUID, details: Details) -> None:
        if self.exists:
            raise errors.CourseAlreadyExists(f"course {self.id} exists")
        _validate_details(details, self.id)
        self._record(self.Created(org_id, author_id, details))

    def edit_details(self, details: Details) -> None:
        self._require_editable()
        _validate_details(details, self.id)
        if self.live is not None and (self.live.details.capacity is None) != (details.capacity is None):
            raise errors.InvalidCourse("a published course cannot switch between capped and uncapped")
        if details != self.details:
            self._record(self.DetailsEdited(details))

    def add_module(self, module_id: UUID, title: str, index: int | None = None) -> None:
        self._require_editable()
        if not title.strip():
            raise errors.InvalidCourse("module title must not be empty")
        if any(m.id == module_id for m in self.modules):
            raise errors.InvalidCourse(f"module {module_id} exists")
        at = len(self.modules) if index is None else max(0, min(index, len(self.modules)))
        self._record(self.ModuleAdded(module_id, title, at))

    def rename_module(self, module_id: UUID, title: str) -> None:
        self._require_editable()
        if not title.strip():
            raise errors.InvalidCourse("module title must not be empty")
        if self.module(module_id).title != title:
            self._record(self.ModuleRenamed(module_id, title))

    def reorder_modules(self, module_ids: tuple[UUID, ...]) -> None:
        self._require_editable()
        if sorted(module_ids) != sorted(m.id for m in self.modules):
            raise errors.InvalidCourse("reorder must name every module exactly once")
        if tuple(m.id for m in self.modules) != module_ids:
            self._record(self.ModulesReordered(module_ids))

    def remove_module(self, module_id: UUID) -> None:
        self._require_editable()
        self.module(module_id)
        self._record(self.ModuleRemoved(module_id))

    def add_lesson(
        self, module_id: UUID, lesson_id: UUID, title: str, duration_minutes: int, index: int | None = None
    ) -> None:
        self._require_editable()
        module = self.module(module_id)
        if not title.strip():
            raise errors.InvalidCourse("lesson title must not be empty")
        _validate_duration(duration_minutes)
        if lesson_id in self._lesson_ids():
            raise errors.InvalidCourse(f"lesson {lesson_id} exists")
        at = len(module.lessons) if index is None else max(0, min(index, len(module.lessons)))
        self._record(self.LessonAdded(module_id, lesson_id, title, duration_minutes, at))

    def edit_lesson(self, lesson_id: UUID, title: str, duration_minutes: int) -> None:
        self._require_editable()
        _, lesson = self.lesson(lesson_id)
        if not title.strip():
            raise errors.InvalidCourse("lesson title must not be empty")
        _validate_duration(duration_minutes)
        if (lesson.title, lesson.duration_minutes) != (title, duration_minutes):
            self._record(self.LessonEdited(lesson_id, title, duration_minutes))

    def reorder_lessons(self, module_id: UUID, lesson_ids: tuple[UUID, ...]) -> None:
        self._require_editable()
        module = self.module(module_id)
        if sorted(lesson_ids) != sorted(lesson.id for lesson in module.lessons):
            raise errors.InvalidCourse("reorder must name every lesson of the module exactly once")
        if tuple(lesson.id for lesson in module.lessons) != lesson_ids:
            self._record(self.LessonsReordered(module_id, lesson_ids))

    def remove_lesson(self, lesson_id: UUID) -> None:
        self._require_editable()
        self.lesson(lesson_id)
        self._record(self.LessonRemoved(lesson_id))

    def set_content(self, lesson_id: UUID, content: LessonContent) -> int:
        """Store a new content version; returns its number."""
        self._require_editable()
        _, lesson = self.lesson(lesson_id)
        content.validate()
        number = len(lesson.versions) + 1
        self._record(self.ContentVersioned(lesson_id, number, content))
        return number

    def restore_content(self, lesson_id: UUID, version: int) -> int:
        """Make an old version current again, as a new version (history only grows)."""
        self._require_editable()
        _, lesson = self.lesson(lesson_id)
        if not 1 <= version <= len(lesson.versions):
            raise errors.ContentVersionNotFound(f"lesson {lesson_id} has no content version {version}")
        number = len(lesson.versions) + 1
        self._record(self.ContentVersioned(lesson_id, number, lesson.versions[version - 1], version))
        return number

    def submit(self, review_id: UUID) -> None:
        self._require_exists()
        if self.status not in EDITABLE:
            raise errors.CourseNotSubmittable(f"course is {self.status}; submit needs draft or rejected")
        if not any(lesson.content for m in self.modules for lesson in m.lessons):
            raise errors.CourseIncomplete("a course needs a module with a lesson with content")
        self._record(self.Submitted(review_id, self.revision))

    def approve(self, review_id: UUID, reviewer_id: UUID) -> None:
        self._require_in_review(review_id)
        if reviewer_id in self.authors:
            raise errors.SelfApproval("an author cannot approve their own course")
        self._record(self.Approved(review_id, reviewer_id))

    def reject(self, review_id: UUID, reviewer_id: UUID, feedback: str, regenerate: tuple[UUID, ...] = ()) -> None:
        self._require_in_review(review_id)
        if reviewer_id in self.authors:
            raise errors.SelfApproval("an author cannot reject their own course")
        if not feedback.strip():
            raise errors.InvalidCourse("a rejection needs feedback")
        if len(set(regenerate)) != len(regenerate):
            raise errors.InvalidCourse("lessons to regenerate repeat")
        for lesson_id in regenerate:
            self.lesson(lesson_id)  # LessonNotFound for a lesson of another course
        self._record(self.Rejected(review_id, reviewer_id, feedback, regenerate))

    def _require_in_review(self, review_id: UUID) -> None:
        self._require_exists()
        if self.status != "in_review" or self.review_id != review_id:
            raise errors.ReviewClosed(f"course is {self.status}, not in review {review_id}")

    @property
    def open_for_enrolment(self) -> bool:
        return self.live is not None and not self.unlisted and self.status not in ("archived", "deleted")

    def publish(self) -> None:
        """Publish the approved revision; an unpublished course with nothing approved goes back
        to the catalog with the revision it had."""
        self._require_exists()
        if self.status == "approved":
            self._record(self.Published(self.major, self.minor))
        elif self.unlisted and self.live is not None and self.status != "archived":
            self._record(self.Republished())
        else:
            raise errors.CourseNotApproved(f"course is {self.status}; publish needs approval")

    def unpublish(self) -> None:
        """Take the course out of the catalog (nothing changes if it is out already)."""
        self._require_exists()
        if self.live is None or self.status == "archived":
            raise errors.CourseNotPublished("only a published course can be unpublished")
        if not self.unlisted:
            self._record(self.Unpublished())

    def archive(self) -> None:
        self._require_exists()
        if self.live is None or self.status == "archived":
            raise errors.CourseNotPublished("only a published course can be archived")
        self._record(self.Archived())

    def delete(self) -> None:
        self._require_exists()
        if self.status != "draft" or self.live is not None:
            raise errors.CourseNotDeletable("only a draft that was never published can be deleted")
        self._record(self.Deleted())

    def add_co_author(self, user_id: UUID) -> None:
        """Make `user_id` a co-author (nothing changes for one of the authors already)."""
        self._require_exists()
        if user_id not in self.authors:
            self._record(self.CoAuthorAdded(user_id))

    def remove_co_author(self, user_id: UUID) -> None:
        self._require_exists()
        if user_id == self.author_id:
            raise errors.InvalidCourse("the course's author cannot be removed from it")
        if user_id not in self.co_authors:
            raise errors.CoAuthorNotFound(f"user {user_id} is not a co-author of course {self.id}")
        self._record(self.CoAuthorRemoved(user_id))

    def start_revision(self, kind: Literal["major", "minor"]) -> str:
        self._require_exists()
        if self.status != "published":
            if self.live is not None and self.status != "archived":
                raise errors.RevisionInProgress(f"revision {self.revision} is {self.status}")
            raise errors.CourseNotPublished("a new revision starts from a published course")
        major, minor = (self.major + 1, 0) if kind == "major" else (self.major, self.minor + 1)
        self._record(self.RevisionStarted(major, minor, kind))
        return f"{major}.{minor}"

    # -- state changes -----------------------------------------------------------------------

    def _on_Created(self, e: Created) -> None:
        self.org_id, self.author_id, self.details = e.org_id, e.author_id, e.details

    def _on_DetailsEdited(self, e: DetailsEdited) -> None:
        self.details = e.details

    def _on_ModuleAdded(self, e: ModuleAdded) -> None:
        self.modules.insert(e.index, Module(e.module_id, e.title))

    def _on_ModuleRenamed(self, e: ModuleRenamed) -> None:
        self.module(e.module_id).title = e.title

    def _on_ModulesReordered(self, e: ModulesReordered) -> None:
        by_id = {m.id: m for m in self.modules}
        self.modules = [by_id[i] for i in e.module_ids]

    def _on_ModuleRemoved(self, e: ModuleRemoved) -> None:
        self.modules = [m for m in self.modules if m.id != e.module_id]

    def _on_LessonAdded(self, e: LessonAdded) -> None:
        self.module(e.module_id).lessons.insert(e.index, Lesson(e.lesson_id, e.title, e.duration_minutes))

    def _on_LessonEdited(self, e: LessonEdited) -> None:
        _, lesson = self.lesson(e.lesson_id)
        lesson.title, lesson.duration_minutes = e.title, e.duration_minutes

    def _on_LessonsReordered(self, e: LessonsReordered) -> None:
        module = self.module(e.module_id)
        by_id = {lesson.id: lesson for lesson in module.lessons}
        module.lessons = [by_id[i] for i in e.lesson_ids]

    def _on_LessonRemoved(self, e: LessonRemoved) -> None:
        for m in self.modules:
            m.lessons = [lesson for lesson in m.lessons if lesson.id != e.lesson_id]

    def _on_ContentVersioned(self, e: ContentVersioned) -> None:
        _, lesson = self.lesson(e.lesson_id)
        lesson.versions.append(e.content)
        lesson.current = e.version

    def _on_Submitted(self, e: Submitted) -> None:
        self.status, self.review_id, self.feedback = "in_review", e.review_id, None

    def _on_Approved(self, e: Approved) -> None:
        self.status = "approved"

    def _on_Rejected(self, e: Rejected) -> None:
        self.status, self.feedback = "rejected", e.feedback

    def _on_Published(self, e: Published) -> None:
        assert self.details is not None
        self.status = "published"
        self.review_id = None
        self.live = Revision(e.major, e.minor, self.details, _snapshot(self.modules))
        self.published[self.live.label] = self.live
        self.unlisted = False

    def _on_Unpublished(self, e: Unpublished) -> None:
        self.unlisted = True

    def _on_Republished(self, e: Republished) -> None:
        self.unlisted = False

    def _on_Archived(self, e: Archived) -> None:
        self.status = "archived"

    def _on_Deleted(self, e: Deleted) -> None:
        self.status = "deleted"

    def _on_CoAuthorAdded(self, e: CoAuthorAdded) -> None:
        self.co_authors = self.co_authors | {e.user_id}

    def _on_CoAuthorRemoved(self, e: CoAuthorRemoved) -> None:
        self.co_authors = self.co_authors - {e.user_id}

    def _on_RevisionStarted(self, e: RevisionStarted) -> None:
        self.status, self.major, self.minor = "draft", e.major, e.minor
