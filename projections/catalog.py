"""Catalog and course detail: every course with its draft and its published revision.

A course is listed once a revision is published, until it is unpublished or archived; the listing shows the
published revision's details even while authors work on the next one. Enrollment counts are the
students currently enrolled (active or completed rounds).
"""

from __future__ import annotations

import copy
from typing import Any
from uuid import UUID

from domain.course import Course, Details
from domain.enrollment import Enrollment
from infra.eventlog import EventEnvelope
from projections.model import Projection, Row, Table, on, plain

ENROLLED = ("active", "completed")

COURSES = Table(
    "courses",
    columns=(
        ("course_id", "uuid NOT NULL"),
        ("org_id", "uuid NOT NULL"),
        ("author_id", "uuid NOT NULL"),
        ("co_authors", "uuid[] NOT NULL"),
        ("status", "text NOT NULL"),
        ("listed", "boolean NOT NULL"),
        ("unpublished", "boolean NOT NULL"),  # taken out of the catalog (enrolled students keep access)
        ("public", "boolean NOT NULL"),
        ("revision", "text"),  # label of the published revision
        ("title", "text NOT NULL"),
        ("description", "text NOT NULL"),
        ("category", "text NOT NULL"),
        ("cefr_level", "text NOT NULL"),
        ("tags", "text[] NOT NULL"),
        ("tags_text", "text NOT NULL"),
        ("capacity", "integer"),
        ("lessons", "integer NOT NULL"),
        ("minutes", "integer NOT NULL"),
        ("enrollment_count", "integer NOT NULL"),
        ("created_at", "timestamptz NOT NULL"),
        ("published_at", "timestamptz"),
        ("updated_at", "timestamptz NOT NULL"),
        ("draft", "jsonb NOT NULL"),
        ("live", "jsonb"),
    ),
    key=("course_id",),
    derived=(
        (
            "search",
            "tsvector GENERATED ALWAYS AS ("
            "setweight(to_tsvector('english', title), 'A') ||"
            " setweight(to_tsvector('english', tags_text || ' ' || category), 'B') ||"
            " setweight(to_tsvector('english', description), 'C')) STORED",
        ),
    ),
    indexes=(
        "USING gin (search)",
        "USING gin (tags)",
        "(org_id, listed)",
        "(published_at DESC, course_id DESC) WHERE listed",
        "(enrollment_count DESC, course_id DESC) WHERE listed",
        "(lower(title), course_id) WHERE listed",
        "(author_id)",
        "USING gin (co_authors)",
    ),
)
ENROLLMENTS = Table(
    "enrollments",
    columns=(
        ("enrollment_id", "uuid NOT NULL"),
        ("course_id", "uuid NOT NULL"),
        ("student_id", "uuid NOT NULL"),
        ("status", "text NOT NULL"),
    ),
    key=("enrollment_id",),
)


def _details(d: Details) -> dict[str, Any]:
    return plain(d)  # type: ignore[no-any-return]


def _find_lesson(doc: dict[str, Any], lesson_id: str) -> dict[str, Any]:
    for m in doc["modules"]:
        for lesson in m["lessons"]:
            if lesson["lesson_id"] == lesson_id:
                return lesson  # type: ignore[no-any-return]
    raise LookupError(f"lesson {lesson_id} is not in the course")


def _find_module(doc: dict[str, Any], module_id: str) -> dict[str, Any]:
    for m in doc["modules"]:
        if m["module_id"] == module_id:
            return m  # type: ignore[no-any-return]
    raise LookupError(f"module {module_id} is not in the course")


class CatalogProjection(Projection):
    name = "catalog"
    version = 3  # 2: co-authors; 3: unpublished
    tables = (COURSES, ENROLLMENTS)

    async def _course(self, env: EventEnvelope) -> Row:
        return await self.require("courses", env.stream_id, "course {key} was never created")

    def _save(self, row: Row, env: EventEnvelope) -> None:
        """Derive the listing columns from the published revision (else the draft) and store."""
        shown = row["live"] or row["draft"]
        d = shown["details"]
        row.update(
            title=d["title"],
            description=d["description"],
            category=d["category"],
            cefr_level=d["cefr_level"],
            tags=list(d["tags"]),
            tags_text=" ".join(d["tags"]),
            capacity=d["capacity"],
            public=bool(d["public"]),
            lessons=sum(len(m["lessons"]) for m in shown["modules"]),
            minutes=sum(le["duration_minutes"] for m in shown["modules"] for le in m["lessons"]),
            listed=row["live"] is not None and not row["unpublished"] and row["status"] not in ("archived", "deleted"),
            updated_at=env.occurred_at,
        )
        self.put("courses", row)
        self.touch(f"course:{row['course_id']}", f"catalog:{row['org_id']}")
        if row["public"]:
            self.touch("catalog:public")

    @on(Course.Created)
    async def created(self, e: Course.Created, env: EventEnvelope) -> None:
        row: Row = {
            "course_id": env.stream_id,
            "org_id": e.org_id,
            "author_id": e.author_id,
            "co_authors": [],
            "status": "draft",
            "unpublished": False,
            "revision": None,
            "enrollment_count": 0,
            "created_at": env.occurred_at,
            "published_at": None,
            "draft": {"details": _details(e.details), "modules": []},
            "live": None,
        }
        self._save(row, env)

    @on(Course.CoAuthorAdded)
    async def co_author_added(self, e: Course.CoAuthorAdded, env: EventEnvelope) -> None:
        row = await self._course(env)
        row["co_authors"] = [*row["co_authors"], e.user_id]
        self._save(row, env)

    @on(Course.CoAuthorRemoved)
    async def co_author_removed(self, e: Course.CoAuthorRemoved, env: EventEnvelope) -> None:
        row = await self._course(env)
        row["co_authors"] = [a for a in row["co_authors"] if a != e.user_id]
        self._save(row, env)

    @on(Course.DetailsEdited)
    async def details_edited(self, e: Course.DetailsEdited, env: EventEnvelope) -> None:
        row = await self._course(env)
        row["draft"]["details"] = _details(e.details)
        self._save(row, env)

    @on(Course.ModuleAdded)
    async def module_added(self, e: Course.ModuleAdded, env: EventEnvelope) -> None:
        row = await self._course(env)
        module = {"module_id": str(e.module_id), "title": e.title, "lessons": []}
        row["draft"]["modules"].insert(e.index, module)
        self._save(row, env)

    @on(Course.ModuleRenamed)
    async def module_renamed(self, e: Course.ModuleRenamed, env: EventEnvelope) -> None:
        row = await self._course(env)
        _find_module(row["draft"], str(e.module_id))["title"] = e.title
        self._save(row, env)

    @on(Course.ModulesReordered)
    async def modules_reordered(self, e: Course.ModulesReordered, env: EventEnvelope) -> None:
        row = await self._course(env)
        by_id = {m["module_id"]: m for m in row["draft"]["modules"]}
        row["draft"]["modules"] = [by_id[str(i)] for i in e.module_ids]
        self._save(row, env)

    @on(Course.ModuleRemoved)
    async def module_removed(self, e: Course.ModuleRemoved, env: EventEnvelope) -> None:
        row = await self._course(env)
        mid = str(e.module_id)
        row["draft"]["modules"] = [m for m in row["draft"]["modules"] if m["module_id"] != mid]
        self._save(row, env)

    @on(Course.LessonAdded)
    async def lesson_added(self, e: Course.LessonAdded, env: EventEnvelope) -> None:
        row = await self._course(env)
        lesson = {
            "lesson_id": str(e.lesson_id),
            "title": e.title,
            "duration_minutes": e.duration_minutes,
            "content_version": 0,
            "content": None,
        }
        _find_module(row["draft"], str(e.module_id))["lessons"].insert(e.index, lesson)
        self._save(row, env)

    @on(Course.LessonEdited)
    async def lesson_edited(self, e: Course.LessonEdited, env: EventEnvelope) -> None:
        row = await self._course(env)
        lesson = _find_lesson(row["draft"], str(e.lesson_id))
        lesson["title"], lesson["duration_minutes"] = e.title, e.duration_minutes
        self._save(row, env)

    @on(Course.LessonsReordered)
    async def lessons_reordered(self, e: Course.LessonsReordered, env: EventEnvelope) -> None:
        row = await self._course(env)
        module = _find_module(row["draft"], str(e.module_id))
        by_id = {le["lesson_id"]: le for le in module["lessons"]}
        module["lessons"] = [by_id[str(i)] for i in e.lesson_ids]
        self._save(row, env)

    @on(Course.LessonRemoved)
    async def lesson_removed(self, e: Course.LessonRemoved, env: EventEnvelope) -> None:
        row = await self._course(env)
        lid = str(e.lesson_id)
        for m in row["draft"]["modules"]:
            m["lessons"] = [le for le in m["lessons"] if le["lesson_id"] != lid]
        self._save(row, env)

    @on(Course.ContentVersioned)
    async def content_versioned(self, e: Course.ContentVersioned, env: EventEnvelope) -> None:
        row = await self._course(env)
        lesson = _find_lesson(row["draft"], str(e.lesson_id))
        lesson["content_version"], lesson["content"] = e.version, plain(e.content)
        self._save(row, env)

    @on(Course.Submitted)
    async def submitted(self, e: Course.Submitted, env: EventEnvelope) -> None:
        row = await self._course(env)
        row["status"] = "in_review"
        self._save(row, env)

    @on(Course.Approved)
    async def approved(self, e: Course.Approved, env: EventEnvelope) -> None:
        row = await self._course(env)
        row["status"] = "approved"
        self._save(row, env)

    @on(Course.Rejected)
    async def rejected(self, e: Course.Rejected, env: EventEnvelope) -> None:
        row = await self._course(env)
        row["status"] = "rejected"
        self._save(row, env)

    @on(Course.Published)
    async def published(self, e: Course.Published, env: EventEnvelope) -> None:
        row = await self._course(env)
        row["status"] = "published"
        row["revision"] = f"{e.major}.{e.minor}"
        row["live"] = copy.deepcopy(row["draft"]) | {"revision": row["revision"]}
        row["published_at"] = env.occurred_at
        row["unpublished"] = False
        was_public = bool(row["public"])
        self._save(row, env)
        if was_public:
            self.touch("catalog:public")

    @on(Course.Unpublished, Course.Republished)
    async def unpublished(self, e: Course.Unpublished | Course.Republished, env: EventEnvelope) -> None:
        row = await self._course(env)
        row["unpublished"] = isinstance(e, Course.Unpublished)
        self._save(row, env)
        if row["public"]:
            self.touch("catalog:public")

    @on(Course.Archived)
    async def archived(self, e: Course.Archived, env: EventEnvelope) -> None:
        row = await self._course(env)
        row["status"] = "archived"
        self._save(row, env)

    @on(Course.Deleted)
    async def deleted(self, e: Course.Deleted, env: EventEnvelope) -> None:
        row = await self._course(env)
        row["status"] = "deleted"
        self._save(row, env)

    @on(Course.RevisionStarted)
    async def revision_started(self, e: Course.RevisionStarted, env: EventEnvelope) -> None:
        row = await self._course(env)
        row["status"] = "draft"
        self._save(row, env)

    # -- enrolments: counts and who may read lesson bodies ---------------------------------

    async def _count(self, course_id: UUID, delta: int, env: EventEnvelope) -> None:
        course = await self.get("courses", course_id)
        if course is None:
            raise LookupError(f"enrolment in unknown course {course_id}")
        course["enrollment_count"] += delta
        self._save(course, env)

    @on(Enrollment.Enrolled)
    async def enrolled(self, e: Enrollment.Enrolled, env: EventEnvelope) -> None:
        row = await self.get("enrollments", env.stream_id)
        if row is None or row["status"] not in ENROLLED:
            await self._count(e.course_id, +1, env)
        self.put(
            "enrollments",
            {
                "enrollment_id": env.stream_id,
                "course_id": e.course_id,
                "student_id": e.student_id,
                "status": "active",
            },
        )

    async def _status(self, env: EventEnvelope, status: str) -> None:
        row = await self.require("enrollments", env.stream_id, "enrolment {key} was never started")
        if status == "dropped" and row["status"] in ENROLLED:
            await self._count(row["course_id"], -1, env)
        row["status"] = status
        self.put("enrollments", row)

    @on(Enrollment.Completed)
    async def completed(self, e: Enrollment.Completed, env: EventEnvelope) -> None:
        await self._status(env, "completed")

    @on(Enrollment.Dropped)
    async def dropped(self, e: Enrollment.Dropped, env: EventEnvelope) -> None:
        await self._status(env, "dropped")
