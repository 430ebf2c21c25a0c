"""The catalog (filters, full-text search, sort, stable cursors) and course detail."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

import msgspec
from psycopg import sql

from domain.enrollment import enrollment_id
from domain.errors import CourseNotFound, Forbidden
from projections.errors import InvalidQuery
from projections.queries.reader import Reader, Viewer, reach
from schemas.access import Query, Reach
from schemas.readmodels import CatalogItem, CatalogPage, CourseDetail, LessonView, ModuleView, Sort
from schemas.roles import is_platform_admin

MAX_LIMIT = 100
_encode = msgspec.json.Encoder().encode
_COLUMNS = (
    "course_id, org_id, author_id, title, description, category, cefr_level, tags, public,"
    " revision, lessons, minutes, capacity, enrollment_count, published_at"
)
# sort -> (key expression, direction, SQL type of the key in a cursor)
_SORTS: dict[str, tuple[str, Literal["ASC", "DESC"], str]] = {
    "newest": ("published_at", "DESC", "timestamptz"),
    "title": ("lower(title)", "ASC", "text"),
    "popular": ("enrollment_count", "DESC", "integer"),
    "relevance": ("ts_rank(search, websearch_to_tsquery('english', %(q)s))", "DESC", "real"),
}


@dataclass(frozen=True)
class CatalogQuery:
    q: str | None = None
    category: str | None = None
    cefr: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    instructor: UUID | None = None
    sort: Sort | None = None  # default: relevance with a search, newest without
    cursor: str | None = None
    limit: int = 20

    def normalised(self) -> CatalogQuery:
        sort = self.sort or ("relevance" if self.q else "newest")
        if sort == "relevance" and not self.q:
            sort = "newest"
        return CatalogQuery(
            q=(self.q or "").strip() or None,
            category=self.category,
            cefr=tuple(sorted(set(self.cefr))),
            tags=tuple(sorted({t.strip().lower() for t in self.tags if t.strip()})),
            instructor=self.instructor,
            sort=sort,
            cursor=self.cursor,
            limit=max(1, min(self.limit, MAX_LIMIT)),
        )


def _cursor(sort: str, key: Any, course_id: UUID) -> str:
    raw = _encode([sort, key.isoformat() if hasattr(key, "isoformat") else key, str(course_id)])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _uncursor(cursor: str, sort: str) -> tuple[Any, UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        got_sort, key, course_id = msgspec.json.decode(raw)
        if got_sort != sort:
            raise ValueError("the cursor belongs to another sort order")
        return key, UUID(course_id)
    except (ValueError, TypeError, msgspec.DecodeError) as e:
        raise InvalidQuery(f"invalid cursor: {e}") from None


def _item(r: tuple[Any, ...]) -> CatalogItem:
    return CatalogItem(
        course_id=str(r[0]),
        org_id=str(r[1]),
        instructor_id=str(r[2]),
        title=r[3],
        description=r[4],
        category=r[5],
        cefr_level=r[6],
        tags=list(r[7]),
        public=r[8],
        revision=r[9],
        lessons=r[10],
        minutes=r[11],
        capacity=r[12],
        enrollment_count=r[13],
        published_at=r[14],
    )


async def catalog_page(
    reader: Reader, viewer: Viewer, query: CatalogQuery, *, position: int | None = None
) -> CatalogPage:
    """Listed courses the viewer may see: their organisation's and the public ones."""
    raw = await catalog_json(reader, viewer, query, position=position)
    return msgspec.json.decode(raw, type=CatalogPage)


async def _page(reader: Reader, viewer: Viewer, query: CatalogQuery) -> tuple[CatalogPage, int]:
    assert query.sort is not None
    key_sql, direction, key_type = _SORTS[query.sort]
    where = [sql.SQL("listed")]
    params: dict[str, Any] = {"org": viewer.org_id, "limit": query.limit + 1, "q": query.q}
    if not is_platform_admin(viewer.roles):
        where.append(sql.SQL("(org_id = %(org)s OR public)"))
    if query.category:
        where.append(sql.SQL("category = %(category)s"))
        params["category"] = query.category
    if query.cefr:
        where.append(sql.SQL("cefr_level = ANY(%(cefr)s)"))
        params["cefr"] = list(query.cefr)
    if query.tags:
        where.append(sql.SQL("tags @> %(tags)s::text[]"))
        params["tags"] = list(query.tags)
    if query.instructor:
        where.append(sql.SQL("(author_id = %(instructor)s OR %(instructor)s = ANY(co_authors))"))
        params["instructor"] = query.instructor
    if query.q:
        where.append(sql.SQL("search @@ websearch_to_tsquery('english', %(q)s)"))
    key = sql.SQL(key_sql)
    if query.cursor:
        params["after_key"], params["after_id"] = _uncursor(query.cursor, query.sort)
        op = sql.SQL("<" if direction == "DESC" else ">")
        where.append(
            sql.SQL("({key}, course_id) {op} (%(after_key)s::{t}, %(after_id)s)").format(
                key=key,
                op=op,
                t=sql.SQL(key_type),  # type: ignore[arg-type]
            )
        )
    stmt = sql.SQL(
        "SELECT {cols}, {key} FROM rm_catalog.courses WHERE {where}"
        " ORDER BY {key} {dir} NULLS LAST, course_id {dir} LIMIT %(limit)s"
    ).format(
        cols=sql.SQL(_COLUMNS),
        key=key,
        where=sql.SQL(" AND ").join(where),
        dir=sql.SQL(direction),
    )
    async with reader.connection() as conn:
        position = await reader.checkpoint(conn, "catalog")
        cur = await conn.execute(stmt, params)
        rows = await cur.fetchall()
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    next_cursor = _cursor(query.sort, rows[-1][-1], rows[-1][0]) if more and rows else None
    page = CatalogPage(items=[_item(r) for r in rows], next_cursor=next_cursor, position=position)
    return page, position


async def catalog_json(reader: Reader, viewer: Viewer, query: CatalogQuery, *, position: int | None = None) -> bytes:
    """The catalog page as JSON, from the cache when it holds a fresh enough copy."""
    await reader.reach("catalog", position)
    query = query.normalised()

    async def compute() -> tuple[bytes, int]:
        page, at = await _page(reader, viewer, query)
        return _encode(page), at

    if is_platform_admin(viewer.roles):  # sees every organisation: not worth a cache entry
        return (await compute())[0]
    digest = hashlib.blake2b(_encode(_query_key(query)), digest_size=12).hexdigest()
    return await reader.cached(
        f"catalog:{viewer.org_id}:{digest}",
        [f"catalog:{viewer.org_id}", "catalog:public"],
        compute,
        position,
    )


def _query_key(query: CatalogQuery) -> list[Any]:
    return [
        query.q,
        query.category,
        list(query.cefr),
        list(query.tags),
        str(query.instructor) if query.instructor else None,
        query.sort,
        query.cursor,
        query.limit,
    ]


# -- course detail -------------------------------------------------------------------------


def _strip_answers(content: dict[str, Any]) -> dict[str, Any]:
    """A learner's view of lesson content: no correct answers, no hidden grading tests of a lab."""
    out = dict(content)
    if content.get("lab"):
        out["lab"] = {k: v for k, v in content["lab"].items() if k not in ("grading_files", "grading_command")}
    out["exercises"] = [{k: v for k, v in e.items() if k != "answer"} for e in content.get("exercises", ())]
    out["assessments"] = [
        a | {"questions": [{k: v for k, v in q.items() if k != "correct"} for q in a["questions"]]}
        for a in content.get("assessments", ())
    ]
    return out


def _detail(
    row: dict[str, Any],
    doc: dict[str, Any],
    *,
    draft: bool,
    bodies: bool,
    answers: bool,
    position: int,
) -> CourseDetail:
    d = doc["details"]
    modules = [
        ModuleView(
            module_id=m["module_id"],
            title=m["title"],
            lessons=[
                LessonView(
                    lesson_id=le["lesson_id"],
                    title=le["title"],
                    duration_minutes=le["duration_minutes"],
                    content_version=le["content_version"],
                    content=(
                        (le["content"] if answers else _strip_answers(le["content"]))
                        if bodies and le["content"] is not None
                        else None
                    ),
                )
                for le in m["lessons"]
            ],
        )
        for m in doc["modules"]
    ]
    return CourseDetail(
        course_id=str(row["course_id"]),
        org_id=str(row["org_id"]),
        instructor_id=str(row["author_id"]),
        co_author_ids=[str(a) for a in row["co_authors"]],
        status=row["status"],
        revision="draft" if draft else doc.get("revision"),
        title=d["title"],
        description=d["description"],
        category=d["category"],
        cefr_level=d["cefr_level"],
        tags=list(d["tags"]),
        capacity=d["capacity"],
        public=bool(d["public"]),
        prerequisites=[str(p) for p in d["prerequisites"]],
        enrollment_count=row["enrollment_count"],
        published_at=row["published_at"],
        listed=bool(row.get("listed", False)),
        bodies=bodies,
        modules=modules,
        position=position,
    )


async def course_detail_json(
    reader: Reader,
    viewer: Viewer,
    course_id: UUID,
    *,
    draft: bool = False,
    position: int | None = None,
) -> bytes:
    """A course's outline (published revision, or the draft for its authors), as JSON.

    Lesson bodies only for enrolled students, the authors, reviewers and admins; learners do
    not get the correct answers of quizzes and exercises.
    """
    await reader.reach("catalog", position)
    async with reader.connection() as conn:
        async with conn.pipeline():
            meta_cur = await conn.execute(
                "SELECT org_id, author_id, co_authors, listed, public, status FROM rm_catalog.courses"
                " WHERE course_id = %s",
                [course_id],
            )
            enrol_cur = await conn.execute(
                "SELECT status FROM rm_catalog.enrollments WHERE enrollment_id = %s",
                [enrollment_id(course_id, viewer.user_id)],
            )
        meta = await meta_cur.fetchone()
        enrolment = await enrol_cur.fetchone()
    if meta is None or meta[5] == "deleted":  # a deleted draft is gone for everyone, its authors too
        raise CourseNotFound(f"course {course_id} not found")
    org_id, author_id, co_authors, listed, public, _ = meta
    # Its authors, and the authors, managers and admins of its organisation: draft and answers.
    staff = viewer.user_id == author_id or viewer.user_id in co_authors
    staff = staff or reach(viewer, Query.COURSE_DRAFT, org_id) is not Reach.NONE
    enrolled = enrolment is not None and enrolment[0] in ("active", "completed")
    # Enrolled students keep their course once it is unpublished or archived.
    visible = staff or enrolled or (listed and (public or viewer.org_id == org_id or is_platform_admin(viewer.roles)))
    if not visible:
        raise CourseNotFound(f"course {course_id} not found")
    if draft and not staff:
        raise Forbidden("only the course's authors, managers and admins see its draft")
    answers = staff
    bodies = answers or enrolled
    variant = f"{'draft' if draft else 'live'}:{int(bodies)}:{int(answers)}"

    async def compute() -> tuple[bytes, int]:
        async with reader.connection() as conn:
            at = await reader.checkpoint(conn, "catalog")
            cur = await conn.execute(
                "SELECT course_id, org_id, author_id, status, enrollment_count, published_at,"
                " draft, live, co_authors, listed FROM rm_catalog.courses WHERE course_id = %s",
                [course_id],
            )
            found = await cur.fetchone()
        if found is None:
            raise CourseNotFound(f"course {course_id} not found")
        names = ("course_id", "org_id", "author_id", "status", "enrollment_count", "published_at")
        row = dict(zip(names, found[:6], strict=True), co_authors=found[8], listed=found[9])
        doc = found[6] if draft or found[7] is None else found[7]
        detail = _detail(row, doc, draft=draft or found[7] is None, bodies=bodies, answers=answers, position=at)
        return _encode(detail), at

    return await reader.cached(f"course:{course_id}:{variant}", [f"course:{course_id}"], compute, position)


async def course_detail(
    reader: Reader,
    viewer: Viewer,
    course_id: UUID,
    *,
    draft: bool = False,
    position: int | None = None,
) -> CourseDetail:
    raw = await course_detail_json(reader, viewer, course_id, draft=draft, position=position)
    return msgspec.json.decode(raw, type=CourseDetail)
