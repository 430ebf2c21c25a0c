"""Each read model against a scenario of commands, with the relay and projectors running."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from domain import errors
from gateway.bootstrap import Root
from infra.eventlog.postgres import PostgresEventStore
from infra.settings import Settings
from projections import queries as q
from projections.analytics import AnalyticsProjection
from projections.errors import InvalidQuery, ProjectionBehind
from projections.rebuild import rebuild
from schemas import commands as c
from tests.integration.projections_support import World, bus_on, dump, projectors, relay, scenario
from tests.integration.test_projections_resilience import own_settings, own_store  # noqa: F401  (fixtures)
from tests.ports import make_ports


@dataclass(frozen=True)
class Viewer:
    user_id: uuid.UUID
    org_id: uuid.UUID
    roles: frozenset[str]


def viewer(ctx: object) -> Viewer:
    return Viewer(ctx.actor_id, ctx.org_id, frozenset(ctx.roles))  # type: ignore[attr-defined]


@pytest.fixture
async def running(settings: Settings, store: PostgresEventStore, nats_cleanup: Settings) -> AsyncIterator[q.Reader]:
    """Relay and projectors on the test's private stream; a Reader with the root's Redis cache."""
    async with Root(settings, make_ports()) as root:
        assert root.redis is not None, "the tests need Redis"
        async with relay(settings), projectors(settings, cache=root.cache):
            yield q.Reader(store.pool, root.cache, wait_seconds=30.0)


async def test_catalog_filters_search_sort_and_stable_cursor(running: q.Reader, store: PostgresEventStore) -> None:
    a, b = World(bus_on(store)), World(bus_on(store))
    safety = await a.published(
        "Forklift safety",
        description="Daily inspection of forks and chains",
        tags=["forklift"],
        cefr_level="B1",
    )
    await a.published(
        "Crane signals",
        description="Hand signals for crane operators",
        category="cranes",
        cefr_level="A2",
        tags=["crane", "signals"],
    )
    await a.published(
        "Welding basics",
        description="Arc welding and protective gear",
        category="welding",
        cefr_level="B2",
        tags=["welding"],
    )
    public = await b.published(
        "Public first aid",
        description="Bandages and burns",
        public=True,
        category="health",
        cefr_level="A1",
    )
    await b.published("Private to B", description="forks too")
    draft = await a.draft("Unpublished forklift draft")
    me = viewer(a.ctx("student"))

    page = await q.catalog_page(running, me, q.CatalogQuery(limit=50), position=draft["position"])
    titles = {i.title for i in page.items}
    assert titles == {"Forklift safety", "Crane signals", "Welding basics", "Public first aid"}
    assert page.position >= draft["position"]

    by = lambda **kw: q.catalog_page(running, me, q.CatalogQuery(limit=50, **kw))  # noqa: E731
    assert [i.title for i in (await by(category="cranes")).items] == ["Crane signals"]
    assert {i.title for i in (await by(cefr=("B1", "B2"))).items} == {
        "Forklift safety",
        "Welding basics",
    }
    assert [i.title for i in (await by(tags=("crane", "signals"))).items] == ["Crane signals"]
    assert (await by(tags=("crane", "welding"))).items == []
    assert {i.title for i in (await by(instructor=b.author.actor_id)).items} == {"Public first aid"}
    found = await by(q="inspection forks")
    assert [i.title for i in found.items] == ["Forklift safety"]
    assert [i.title for i in (await by(q="bandages")).items] == ["Public first aid"]
    assert [i.title for i in (await by(sort="title")).items] == sorted(titles, key=str.lower)

    # Walk the catalog two at a time; a course published between pages sorts first (newest)
    # and must neither shift nor repeat what the cursor already passed.
    seen: list[str] = []
    page = await q.catalog_page(running, me, q.CatalogQuery(limit=2))
    seen += [i.course_id for i in page.items]
    late = await a.published("Late arrival")
    while page.next_cursor:
        page = await q.catalog_page(
            running, me, q.CatalogQuery(limit=2, cursor=page.next_cursor), position=late["position"]
        )
        seen += [i.course_id for i in page.items]
    assert len(seen) == len(set(seen)) == 4
    assert str(late["course"]) not in seen
    with pytest.raises(InvalidQuery):
        await q.catalog_page(running, me, q.CatalogQuery(cursor="not-a-cursor"))

    # Enrollment counts: two enrol, one drops.
    s1, s2 = a.ctx("student"), a.ctx("student")
    await a.bus.handle(c.Enrol(course_id=safety["course"]), s1)
    await a.bus.handle(c.Enrol(course_id=safety["course"]), s2)
    r = await a.bus.handle(c.DropEnrollment(course_id=safety["course"]), s2)
    fresh = await q.catalog_page(running, me, q.CatalogQuery(q="inspection"), position=r.position)
    assert fresh.items[0].enrollment_count == 1
    assert str(public["course"]) in {i.course_id for i in (await by(category="health")).items}


async def test_course_detail_shows_lesson_bodies_only_to_those_allowed(
    running: q.Reader, store: PostgresEventStore
) -> None:
    w = World(bus_on(store))
    course = await w.published("Detail course", description="About forks")
    cid = course["course"]
    student = w.ctx("student")
    outline = await q.course_detail(running, viewer(student), cid, position=course["position"])
    assert [m.title for m in outline.modules] == ["Module 0", "Module 1"]
    assert not outline.bodies
    assert all(le.content is None for m in outline.modules for le in m.lessons)

    r = await w.bus.handle(c.Enrol(course_id=cid), student)
    learner = await q.course_detail(running, viewer(student), cid, position=r.position)
    assert learner.bodies
    assert learner.enrollment_count == 1
    content = learner.modules[0].lessons[0].content
    assert content is not None
    assert content["objectives"] == ["Inspect the forks before every shift"]
    assert all("correct" not in question for question in content["assessments"][0]["questions"])

    author = await q.course_detail(running, viewer(w.author), cid)
    assert author.modules[0].lessons[0].content["assessments"][0]["questions"][0]["correct"] == [0]  # type: ignore[index]

    with pytest.raises(errors.CourseNotFound):
        await q.course_detail(running, viewer(w.ctx("student", org=uuid.uuid4())), cid)
    with pytest.raises(errors.Forbidden):
        await q.course_detail(running, viewer(student), cid, draft=True)

    # The author's new revision shows in the draft view only; students keep the published one.
    await w.bus.handle(c.StartRevision(course_id=cid), w.author)
    r = await w.bus.handle(c.AddModule(course_id=cid, title="Extra"), w.author)
    draft = await q.course_detail(running, viewer(w.author), cid, draft=True, position=r.position)
    assert [m.title for m in draft.modules] == ["Module 0", "Module 1", "Extra"]
    live = await q.course_detail(running, viewer(student), cid, position=r.position)
    assert [m.title for m in live.modules] == ["Module 0", "Module 1"]
    assert live.revision == "0.1"


async def test_review_queue_and_history(running: q.Reader, store: PostgresEventStore) -> None:
    w = World(bus_on(store))
    course = await w.draft("Reviewed course")
    cid = course["course"]
    sub = await w.bus.handle(c.SubmitCourse(course_id=cid), w.author)
    review = uuid.UUID(sub.data["review_id"])
    r = await w.bus.handle(c.CommentOnReview(review_id=review, text="Add a picture"), w.manager)
    queue = await q.review_queue(running, viewer(w.manager), position=r.position)
    assert [(i.course_title, i.status) for i in queue.items] == [("Reviewed course", "open")]
    assert queue.items[0].comments[0].text == "Add a picture"
    with pytest.raises(errors.Forbidden):
        await q.review_queue(running, viewer(w.author))

    await w.bus.handle(c.RejectCourse(review_id=review, feedback="needs pictures"), w.manager)
    position = await w.publish(cid)
    queue = await q.review_queue(running, viewer(w.manager), position=position)
    assert queue.items == []
    history = await q.review_history(running, viewer(w.author), cid, position=position)
    assert [(h.status, h.feedback) for h in history.items] == [
        ("approved", ""),
        ("rejected", "needs pictures"),
    ]
    with pytest.raises(errors.CourseNotFound):
        await q.review_history(running, viewer(w.ctx("course_manager", org=uuid.uuid4())), cid)


async def test_progress_of_a_student_and_an_instructors_students(running: q.Reader, store: PostgresEventStore) -> None:
    w = World(bus_on(store))
    course = await w.published("Progress course")
    student, other = w.ctx("student"), w.ctx("student")
    position = await w.learn(course, student, finish=False)
    await w.bus.handle(c.Enrol(course_id=course["course"]), other)
    mine = await q.my_courses(running, viewer(student), position=position)
    (p,) = mine.items
    assert (p.course_title, p.status, p.lessons_done, p.lessons_total, p.progress) == (
        "Progress course",
        "active",
        1,
        2,
        50.0,
    )
    assert p.modules is not None
    assert [(m.title, m.progress) for m in p.modules] == [("Module 0", 100.0), ("Module 1", 0.0)]
    assert p.modules[0].lessons[0].title == "Lesson 0"
    assert p.modules[0].lessons[0].completed_at is not None
    assert p.quizzes is not None
    assert [(x.attempt, x.score, x.passed) for x in p.quizzes] == [(1, 0, False), (2, 2, True)]

    r = await w.bus.handle(c.CompleteLesson(course_id=course["course"], lesson_id=course["lessons"][1]), student)
    done = await q.my_course(running, viewer(student), course["course"], position=r.position)
    assert done.status == "completed"
    assert done.progress == 100.0
    assert done.completed_at is not None

    students = await q.instructor_students(running, viewer(w.author), position=r.position)
    assert {(s.student_id, s.status) for s in students.items} == {
        (str(student.actor_id), "completed"),
        (str(other.actor_id), "active"),
    }
    with pytest.raises(errors.Forbidden):
        await q.instructor_students(running, viewer(student))
    with pytest.raises(errors.EnrollmentNotFound):
        await q.my_course(running, viewer(other), course["course"], student_id=student.actor_id)
    seen = await q.my_course(running, viewer(w.author), course["course"], student_id=student.actor_id)
    assert seen.student_id == str(student.actor_id)


async def test_analytics_of_an_organisation_and_a_course(running: q.Reader, store: PostgresEventStore) -> None:
    w = World(bus_on(store))
    position = await scenario(w, courses=2, students=6)  # 4 finish, 2 drop
    lingering = w.ctx("student")
    course = await w.published("Third")
    r = await w.bus.handle(c.Enrol(course_id=course["course"]), lingering)
    later = datetime.now(UTC) + timedelta(days=30)
    query = q.AnalyticsQuery(period="day", as_of=later, until=later.date(), at_risk_days=14, at_risk_below=50)
    org = await q.org_analytics(running, viewer(w.manager), query, position=max(position, r.position))
    assert (org.students, org.instructors, org.published_courses) == (7, 1, 3)
    assert (org.learners, org.active, org.completed, org.dropped) == (7, 1, 4, 2)
    assert org.completion_rate == round(4 / 7, 4)
    assert org.drop_rate == round(2 / 7, 4)
    assert org.avg_days_to_complete is not None
    assert org.avg_days_to_complete < 1
    assert sum(p.enrolled for p in org.enrollments) == 7
    assert sum(p.dropped for p in org.enrollments) == 2
    assert [a.student_id for a in org.at_risk] == [str(lingering.actor_id)]
    # Six learners took the quiz twice: a zero, then full marks.
    assert [(b.low, b.attempts, b.passed) for b in org.quiz_scores] == [(0, 6, 0), (100, 6, 6)]
    assert org.popular_courses[0].learners >= org.popular_courses[-1].learners

    one = await q.course_analytics(running, viewer(w.author), course["course"], query)
    assert (one.learners, one.active, one.completed) == (1, 1, 0)
    assert one.quiz_scores == []
    with pytest.raises(errors.Forbidden):
        await q.org_analytics(running, viewer(w.author), query)


async def test_read_your_writes_says_so_when_the_wait_runs_out(running: q.Reader, store: PostgresEventStore) -> None:
    w = World(bus_on(store))
    impatient = q.Reader(running.pool, running.cache, wait_seconds=0.2)
    far = await store.head() + 1_000_000
    with pytest.raises(ProjectionBehind) as caught:
        await q.catalog_page(impatient, viewer(w.author), q.CatalogQuery(), position=far)
    assert caught.value.wanted == far
    assert caught.value.reached < far


async def test_cached_catalog_is_invalidated_by_the_projector(running: q.Reader, store: PostgresEventStore) -> None:
    w = World(bus_on(store))
    course = await w.published("Cached course")
    me = viewer(w.ctx("student"))
    assert running.cache is not None
    first = await q.catalog_page(running, me, q.CatalogQuery(), position=course["position"])
    # The projector's invalidation of its own last event may land just after that first read
    # cached the page; a repeat read within a quiet moment is served from the cache.
    for _ in range(50):
        hits = running.cache.hits
        again = await q.catalog_page(running, me, q.CatalogQuery())
        if running.cache.hits == hits + 1:
            break
    assert running.cache.hits == hits + 1
    assert again == first
    # No position given: the projector's invalidation alone must make the new count visible.
    r = await w.bus.handle(c.Enrol(course_id=course["course"]), w.ctx("student"))
    await q.course_detail(running, me, course["course"], position=r.position)  # projector passed it

    async def counted() -> bool:
        page = await q.catalog_page(running, me, q.CatalogQuery())
        return page.items[0].enrollment_count == 1

    from tests.integration.projections_support import wait_until

    await wait_until(counted, within=10, what="the cached page to be invalidated")


async def test_queries_before_the_read_models_exist_say_unavailable(fresh_database: str) -> None:
    from psycopg_pool import AsyncConnectionPool

    from infra.errors import Unavailable

    async with AsyncConnectionPool(
        fresh_database, min_size=1, max_size=2, open=False, kwargs={"autocommit": True}
    ) as pool:
        reader = q.Reader(pool, wait_seconds=0.2)
        me = Viewer(uuid.uuid4(), uuid.uuid4(), frozenset({"student"}))
        with pytest.raises(Unavailable):
            await q.catalog_page(reader, me, q.CatalogQuery())
        with pytest.raises(Unavailable):
            await q.my_courses(reader, me, position=1)


async def test_an_unpublished_course_is_not_counted_as_published(
    own_settings: Settings,  # noqa: F811
    own_store: PostgresEventStore,  # noqa: F811
) -> None:
    """Unpublishing takes a course out of the organisation's published count and its popular
    courses; relisting it puts it back; a rebuild of the analytics gives the same rows."""
    settings, store = own_settings, own_store
    w = World(bus_on(store))
    query = q.AnalyticsQuery(period="day")
    async with Root(settings, make_ports()) as root, relay(settings), projectors(settings, "analytics"):
        reader = q.Reader(store.pool, root.cache, wait_seconds=30.0)

        async def published_at(position: int) -> tuple[int, set[str]]:
            org = await q.org_analytics(reader, viewer(w.manager), query, position=position)
            return org.published_courses, {p.title for p in org.popular_courses}

        await w.published("Kept")
        hidden = (await w.published("Hidden"))["course"]
        await w.bus.handle(c.Enrol(course_id=hidden), w.ctx("student"))
        r = await w.bus.handle(c.UnpublishCourse(course_id=hidden), w.manager)
        assert await published_at(r.position) == (1, {"Kept"})
        r = await w.bus.handle(c.PublishCourse(course_id=hidden), w.manager)
        assert await published_at(r.position) == (2, {"Kept", "Hidden"})
        r = await w.bus.handle(c.UnpublishCourse(course_id=hidden), w.manager)
        assert await published_at(r.position) == (1, {"Kept"})

    await rebuild(settings.pg_dsn, AnalyticsProjection, target="cmp_analytics")
    live, fresh = (
        await dump(settings.pg_dsn, AnalyticsProjection.schema()),
        await dump(settings.pg_dsn, "cmp_analytics"),
    )
    assert live == fresh and live["courses"]
