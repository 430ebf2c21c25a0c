"""Every `Location` a command answers is a resource its caller can read at once, and no Redis key
the system writes is left without an expiry: the gateway, the relay and the projectors running,
a course from draft to enrolment over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from infra.eventlog.postgres import PostgresEventStore
from infra.settings import Settings
from tests.integration.gateway_harness import CONTENT, DETAILS, Api, draft, people, publish, running_gateway
from tests.integration.projections_support import projectors, relay


@pytest.fixture
async def api(settings: Settings, store: PostgresEventStore, nats_cleanup: Settings) -> AsyncIterator[Api]:
    async with relay(settings), running_gateway(settings) as api, projectors(settings, cache=api.root.cache):
        yield api


async def test_every_location_resolves(api: Api) -> None:
    o = await people(api)
    author, manager, student = o.headers["author"], o.headers["manager"], o.headers["student"]

    async def follow(r: httpx.Response, headers: dict[str, str]) -> Any:
        assert r.status_code in (201, 202), r.text
        got = await api.client.get(r.headers["location"], headers=headers)
        assert got.status_code == 200, (r.headers["location"], got.text)
        return got.json()

    post = api.client.post
    r = await post("/courses", json=DETAILS, headers=author)
    cid = r.json()["id"]
    r = await post(f"/courses/{cid}/modules", json={"title": "Basics"}, headers=author)
    assert (await follow(r, author))["title"] == "Basics"
    module = r.json()["data"]["module_id"]
    r = await post(f"/courses/{cid}/modules/{module}/lessons", json={"title": "Checks"}, headers=author)
    assert (await follow(r, author))["title"] == "Checks"
    lesson = r.json()["data"]["lesson_id"]
    r = await post(f"/courses/{cid}/lessons/{lesson}/content", json={"content": CONTENT}, headers=author)
    shown = await follow(r, author)
    assert shown["content_version"] == 1 and shown["content"]["objectives"] == CONTENT["objectives"]
    r = await post(f"/courses/{cid}/submit", headers=author)
    review = await follow(r, author)
    assert review["status"] == "open"
    r = await post(f"/reviews/{review['review_id']}/comments", json={"text": "Clear."}, headers=manager)
    assert [c["text"] for c in (await follow(r, manager))["comments"]] == ["Clear."]
    r = await post(f"/reviews/{review['review_id']}/approve", json={"feedback": "fine"}, headers=manager)
    assert (await follow(r, manager))["status"] == "approved"
    r = await post(f"/courses/{cid}/publish", headers=manager)
    assert (await follow(r, manager))["status"] == "published"
    r = await post(f"/courses/{cid}/enrollments", json={}, headers=student)
    assert (await follow(r, student))["student_id"] == str(o.ids["student"])
    r = await post(f"/courses/{cid}/revisions", json={}, headers=author)
    assert (await follow(r, author))["revision"] == "draft"
    _, address = await api.register(name="New Colleague")
    r = await post(f"/organisations/{o.id}/members", json={"email": address, "roles": ["trainer"]}, headers=o.admin)
    assert (await follow(r, o.admin))["name"] == "New Colleague"


async def test_every_redis_key_the_system_writes_expires(api: Api, settings: Settings) -> None:
    o = await people(api)
    course, _, _ = await draft(api, o)
    position = await publish(api, o, course)
    student = o.headers["student"]
    for _ in range(2):  # computed, then served from the cache
        assert (await api.client.get(f"/catalog?position={position}", headers=student)).status_code == 200
    key = {"Idempotency-Key": "login-once"}
    r = await api.client.post("/courses/" + course + "/enrollments", json={}, headers={**student, **key})
    assert r.status_code == 201, r.text
    redis = api.services.redis
    assert redis is not None
    keys = [k async for k in redis.scan_iter(match=f"{settings.subject_prefix}:*")]
    assert any(b":gen:" in k for k in keys)  # the projectors invalidated the catalog
    forever = [k for k in keys if await redis.ttl(k) == -1]
    assert forever == []
