"""Courses and their authors over HTTP: other instructors read a draft, nobody approves their
own course, a deleted draft is gone for everyone, authors list their own courses, and a refused
enrolment names the missing courses (the role matrix is in test_gateway_roles.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import uuid4

import pytest

from infra.eventlog.postgres import PostgresEventStore
from infra.settings import Settings
from tests.integration.gateway_harness import (
    DETAILS,
    QUERIES_DEPRECATIONS,
    Api,
    draft,
    people,
    publish,
    running_gateway,
)
from tests.integration.projections_support import projectors, relay

pytestmark = QUERIES_DEPRECATIONS


@pytest.fixture
async def api(settings: Settings, store: PostgresEventStore, nats_cleanup: Settings) -> AsyncIterator[Api]:
    async with relay(settings), projectors(settings), running_gateway(settings) as api:
        yield api


async def test_other_instructors_read_a_draft_and_nobody_approves_their_own(api: Api) -> None:
    o = await people(api)
    course, _, _ = await draft(api, o)
    r = await api.client.put(f"/courses/{course}/co-authors/{o.ids['manager']}", headers=o.headers["author"])
    assert r.status_code == 202, r.text
    position = r.json()["position"]
    r = await api.client.get(f"/courses/{course}?revision=draft&position={position}", headers=o.headers["colleague"])
    assert r.status_code == 200, r.text
    assert r.json()["co_author_ids"] == [str(o.ids["manager"])]
    r = await api.client.post(f"/courses/{course}/submit", headers=o.headers["author"])
    review = r.json()["data"]["review_id"]
    store = api.services.store
    head = await store.head()
    # The manager co-writes this course: no approval, no assignment as its reviewer.
    r = await api.client.post(f"/reviews/{review}/approve", json={}, headers=o.headers["manager"])
    assert (r.status_code, r.json()["code"]) == (403, "self_approval")
    r = await api.client.put(
        f"/reviews/{review}/reviewer", json={"reviewer_id": str(o.ids["manager"])}, headers=o.headers["org_admin"]
    )
    assert (r.status_code, r.json()["code"]) == (403, "self_approval")
    assert await store.head() == head
    # Only a member who writes courses can be a co-author.
    r = await api.client.put(f"/courses/{course}/co-authors/{o.ids['student']}", headers=o.headers["author"])
    assert (r.status_code, r.json()["code"]) == (422, "invalid_co_author")
    r = await api.client.put(f"/courses/{course}/co-authors/{uuid4()}", headers=o.headers["author"])
    assert r.status_code == 404


async def test_a_deleted_draft_is_gone_for_everyone_and_authors_list_their_own(api: Api) -> None:
    o = await people(api)
    kept, _, _ = await draft(api, o, title="Kept")
    shared, _, _ = await draft(api, o, by="colleague", title="Shared")
    r = await api.client.put(f"/courses/{shared}/co-authors/{o.ids['author']}", headers=o.headers["colleague"])
    assert r.status_code == 202, r.text
    gone, _, _ = await draft(api, o, title="Gone")
    r = await api.client.delete(f"/courses/{gone}/draft", headers=o.headers["author"])
    assert r.status_code == 202, r.text
    at = r.json()["position"]
    for who in ("author", "manager", "colleague", "student"):
        for query in ("", "&revision=draft"):
            r = await api.client.get(f"/courses/{gone}?position={at}{query}", headers=o.headers[who])
            assert r.status_code == 404, (who, query, r.text)
    r = await api.client.put(f"/courses/{gone}/details", json=DETAILS, headers=o.headers["author"])
    assert r.status_code == 404
    r = await api.client.get(f"/me/courses?status=draft&position={at}", headers=o.headers["author"])
    assert r.status_code == 200, r.text
    assert {(i["course_id"], i["title"]) for i in r.json()["items"]} == {(kept, "Kept"), (shared, "Shared")}
    r = await api.client.post(f"/courses/{kept}/submit", headers=o.headers["author"])
    at = r.json()["position"]
    r = await api.client.get(f"/me/courses?status=in_review&position={at}", headers=o.headers["author"])
    assert [i["course_id"] for i in r.json()["items"]] == [kept]
    r = await api.client.get(f"/me/courses?status=draft&position={at}", headers=o.headers["colleague"])
    assert [i["course_id"] for i in r.json()["items"]] == [shared]
    # Drafts and courses in review at once.
    r = await api.client.get(f"/me/courses?status=draft&status=in_review&position={at}", headers=o.headers["author"])
    assert {i["course_id"]: i["status"] for i in r.json()["items"]} == {kept: "in_review", shared: "draft"}


async def test_a_refused_enrolment_names_the_missing_courses(api: Api) -> None:
    o = await people(api)
    basics, _, _ = await draft(api, o, title="Forklift basics")
    await publish(api, o, basics)
    advanced, _, _ = await draft(api, o, title="Advanced", prerequisites=[basics])
    await publish(api, o, advanced)
    r = await api.client.post(f"/courses/{advanced}/enrollments", json={}, headers=o.headers["student"])
    assert r.status_code == 409, r.text
    problem = r.json()
    assert problem["code"] == "prerequisites_missing"
    assert problem["errors"] == [{"course_id": basics, "title": "Forklift basics"}]
    assert "Forklift basics" in problem["detail"] and basics in problem["detail"]
