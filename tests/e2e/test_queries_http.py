"""The query endpoints over HTTP on the running gateway, with the relay and projectors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import UUID

import pytest

from commands.context import Context
from infra.eventlog.postgres import PostgresEventStore
from infra.settings import Settings
from schemas import commands as c
from tests.integration.gateway_harness import Api, running_gateway
from tests.integration.projections_support import CONTENT, projectors, relay


@pytest.fixture
async def api(settings: Settings, store: PostgresEventStore, nats_cleanup: Settings) -> AsyncIterator[Api]:
    async with relay(settings), running_gateway(settings) as api, projectors(settings, cache=api.root.cache):
        yield api


async def test_catalog_detail_progress_and_reviews_over_http(api: Api) -> None:
    org, admin = await api.organisation("Readers Inc")
    author_id, author = await api.member(org, admin, "instructor")
    manager_id, manager = await api.member(org, admin, "course_manager")
    student_id, student = await api.member(org, admin, "student")

    r = await api.client.post(
        "/courses",
        json={"title": "Forklift safety", "cefr_level": "B1", "category": "safety", "tags": ["forklift"]},
        headers=author,
    )
    assert r.status_code == 201, r.text
    course = UUID(r.json()["id"])
    # The rest of the authoring through the bus, as these users.
    as_author = Context(author_id, org, frozenset({"instructor"}))
    as_manager = Context(manager_id, org, frozenset({"course_manager"}))
    bus = api.services.bus
    m = await bus.handle(c.AddModule(course_id=course, title="Basics"), as_author)
    lesson = await bus.handle(
        c.AddLesson(course_id=course, module_id=UUID(m.data["module_id"]), title="Checks"), as_author
    )
    lesson_id = UUID(lesson.data["lesson_id"])
    await bus.handle(c.SetLessonContent(course_id=course, lesson_id=lesson_id, content=CONTENT), as_author)
    sub = await bus.handle(c.SubmitCourse(course_id=course), as_author)

    queue = await api.client.get(f"/review-queue?position={sub.position}", headers=manager)
    assert queue.status_code == 200, queue.text
    assert [i["course_title"] for i in queue.json()["items"]] == ["Forklift safety"]
    assert (await api.client.get("/review-queue", headers=student)).status_code == 403

    await bus.handle(c.ApproveCourse(review_id=UUID(sub.data["review_id"])), as_manager)
    pub = await bus.handle(c.PublishCourse(course_id=course), as_manager)

    page = await api.client.get(f"/catalog?q=forklift&position={pub.position}", headers=student)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("application/json")
    assert [i["title"] for i in page.json()["items"]] == ["Forklift safety"]
    assert (await api.client.get("/catalog?cursor=nonsense", headers=student)).status_code == 422
    assert (await api.client.get("/catalog")).status_code == 401

    outline = await api.client.get(f"/courses/{course}", headers=student)
    assert outline.status_code == 200, outline.text
    assert outline.json()["bodies"] is False
    enrolled = await api.client.post(f"/courses/{course}/enrollments", json={}, headers=student)
    assert enrolled.status_code == 201, enrolled.text
    position = enrolled.json()["position"]

    detail = await api.client.get(f"/courses/{course}?position={position}", headers=student)
    content = detail.json()["modules"][0]["lessons"][0]["content"]
    assert content["objectives"] == ["Inspect the forks before every shift"]
    mine = await api.client.get(f"/me/courses?position={position}", headers=student)
    assert mine.status_code == 200, mine.text
    assert [(i["course_title"], i["status"]) for i in mine.json()["items"]] == [("Forklift safety", "active")]
    students = await api.client.get(f"/students?position={position}", headers=author)
    assert [s["student_id"] for s in students.json()["items"]] == [str(student_id)]
    stats = await api.client.get(f"/analytics/organisation?position={position}", headers=manager)
    assert stats.status_code == 200, stats.text
    assert stats.json()["students"] == 1
    history = await api.client.get(f"/courses/{course}/reviews", headers=author)
    assert [h["status"] for h in history.json()["items"]] == ["approved"]

    assert (await api.client.get("/projections", headers=student)).status_code == 403  # operators only
    _, operator = await api.platform_admin()
    lag = await api.client.get("/projections", headers=api.bearer(await api.login(operator)))
    assert lag.status_code == 200, lag.text
    projections = {"catalog", "reviews", "progress", "analytics", "orders", "certificates", "notifications"}
    assert {item["projection"] for item in lag.json()} == projections
    assert all(item["position"] >= position for item in lag.json())
    for _ in range(2):  # the same page again: served from the cache, counted as hits
        assert (await api.client.get("/catalog?q=forklift", headers=student)).status_code == 200
    metrics = await api.client.get("/metrics")
    assert 'cw_projection_lag_events{projection="catalog"}' in metrics.text
    assert 'cw_projection_lag_seconds{projection="catalog"}' in metrics.text
    hits = [line for line in metrics.text.splitlines() if line.startswith('cw_cache_requests_total{cache="query"')]
    assert any('outcome="hit"' in line and float(line.rsplit(" ", 1)[1]) >= 1 for line in hits), hits
    assert any('outcome="miss"' in line for line in hits), hits

    behind = await api.client.get(f"/catalog?position={position + 10_000_000}", headers=student)
    assert behind.status_code == 503
    assert behind.headers["content-type"].startswith("application/problem+json")
    assert "Retry-After" in behind.headers
