"""The HTTP contract: answers, Location, idempotency, problems, limits, probes, correlation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

import pytest

from gateway.ratelimit import RateLimitMiddleware
from infra.settings import Settings
from tests.integration.gateway_harness import QUERIES_DEPRECATIONS, Api, running_gateway

pytestmark = QUERIES_DEPRECATIONS
DETAILS = {"title": "Forklifts", "cefr_level": "B1", "category": "safety"}
CONTENT = {
    "objectives": ["Inspect the forks"],
    "assessments": [
        {
            "id": "q1",
            "title": "Check",
            "questions": [{"id": "a", "prompt": "Forks?", "options": ["ok", "cracked"], "correct": [0]}],
            "pass_mark": 1.0,
        }
    ],
}


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    async with running_gateway(settings) as a:
        yield a


async def test_a_course_from_draft_to_completed_enrolment(api: Api) -> None:
    org, admin = await api.organisation()
    _, author = await api.member(org, admin, "instructor")
    _, manager = await api.member(org, admin, "course_manager")
    student_id, student = await api.member(org, admin, "student")
    post = api.client.post

    r = await post("/courses", json=DETAILS, headers=author)
    assert r.status_code == 201
    course = r.json()
    assert r.headers["location"] == f"/courses/{course['id']}"
    assert course["version"] == 1 and course["position"] > 0 and course["kind"] == "course"
    cid = course["id"]
    r = await post(f"/courses/{cid}/modules", json={"title": "Basics"}, headers=author)
    module = r.json()["data"]["module_id"]
    assert r.headers["location"].startswith(f"/courses/{cid}/modules/{module}?")  # tests/e2e/test_locations.py
    r = await post(f"/courses/{cid}/modules/{module}/lessons", json={"title": "Checks"}, headers=author)
    lesson = r.json()["data"]["lesson_id"]
    r = await post(f"/courses/{cid}/lessons/{lesson}/content", json={"content": CONTENT}, headers=author)
    assert r.status_code == 201 and r.headers["location"].startswith(f"/courses/{cid}/lessons/{lesson}?")
    r = await post(f"/courses/{cid}/submit", headers=author)
    assert r.status_code == 201
    review = r.json()["data"]["review_id"]
    assert r.headers["location"].startswith(f"/reviews/{review}?")
    r = await post(f"/reviews/{review}/approve", json={"feedback": "fine"}, headers=author)
    assert r.status_code == 403  # instructors author, managers review
    r = await post(f"/reviews/{review}/approve", json={"feedback": "fine"}, headers=manager)
    assert r.status_code == 202
    r = await post(f"/courses/{cid}/publish", headers=manager)
    assert r.status_code == 202 and r.json()["data"]["revision"] == "0.1"
    r = await post(f"/courses/{cid}/enrollments", json={}, headers=student)
    assert r.status_code == 201
    assert r.headers["location"].startswith(f"/courses/{cid}/students/{student_id}/progress?")
    r = await post(
        f"/courses/{cid}/enrollments/quiz-submissions",
        json={"lesson_id": lesson, "assessment_id": "q1", "answers": {"a": [0]}},
        headers=student,
    )
    assert r.status_code == 201 and r.json()["data"]["progress"] == 100.0
    r = await post(f"/courses/{cid}/enrollments", json={}, headers=student)
    assert r.status_code == 409 and r.json()["code"] == "already_enrolled"
    r = await post(f"/courses/{cid}/archive", headers=manager)
    assert r.status_code == 202


async def test_idempotency_key_replays_the_first_answer(api: Api) -> None:
    org, admin = await api.organisation()
    _, author = await api.member(org, admin, "instructor")
    key = {"Idempotency-Key": f"create-{uuid4()}"}
    first = await api.client.post("/courses", json=DETAILS, headers={**author, **key})
    again = await api.client.post("/courses", json=DETAILS, headers={**author, **key})
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"] and again.json()["replayed"] is True
    assert again.headers["location"] == first.headers["location"]
    other = await api.client.post("/courses", json=DETAILS, headers=author)
    assert other.json()["id"] != first.json()["id"]
    r = await api.client.post("/courses", json=DETAILS, headers={**author, "Idempotency-Key": "x" * 201})
    assert r.status_code == 400


async def test_malformed_requests_are_problems_not_500(api: Api) -> None:
    org, admin = await api.organisation()
    _, author = await api.member(org, admin, "instructor")
    json_type = {**author, "content-type": "application/json"}
    cases = [
        ("POST", "/courses", b"{not json", json_type, 400),
        ("POST", "/courses", b'{"title": 5, "cefr_level": "B1", "category": "x"}', json_type, 400),
        ("POST", "/courses", b'{"title": "t", "cefr_level": "Z9", "category": "x"}', json_type, 400),
        ("POST", "/courses", b'{"title": "t", "cefr_level": "B1", "category": "x", "evil": 1}', json_type, 400),
        (
            "POST",
            "/courses",
            b'{"title": "t", "cefr_level": "B1", "category": "x"}',
            {**author, "content-type": "text/plain"},
            415,
        ),
        ("POST", "/courses", b"[]", json_type, 400),
        ("POST", "/courses/not-a-uuid/modules", b'{"title": "x"}', json_type, 404),
        ("POST", f"/courses/{uuid4()}/modules", b'{"title": "x"}', json_type, 404),
        ("GET", "/no/such/route", b"", author, 404),
        ("DELETE", "/courses", b"", author, 405),
        ("POST", "/courses", b'{"title": "' + b"x" * 2_000_000 + b'"}', json_type, 413),
        ("POST", "/courses", b'{"title": "  ", "cefr_level": "B1", "category": "x"}', json_type, 422),
    ]
    for method, path, body, headers, status in cases:
        r = await api.client.request(method, path, content=body, headers=headers)
        assert r.status_code == status, (path, body[:60], r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json"), r.headers
        problem = r.json()
        assert problem["status"] == status and problem["title"] and problem["type"].startswith("urn:")


async def test_request_id_becomes_the_events_correlation_id(api: Api) -> None:
    org, admin = await api.organisation()
    _, author = await api.member(org, admin, "instructor")
    r = await api.client.post("/courses", json=DETAILS, headers={**author, "X-Request-ID": "trace-42"})
    assert r.headers["x-request-id"] == "trace-42"
    events = await api.services.store.read_stream(UUID(r.json()["id"]))
    assert [e.correlation_id for e in events] == ["trace-42"]


async def test_probes_and_metrics(api: Api) -> None:
    assert (await api.client.get("/health")).json() == {"status": "ok"}
    ready = (await api.client.get("/ready")).json()
    assert ready["status"] == "ready"
    assert {ready[s]["status"] for s in ("postgres", "nats", "redis")} == {"ok"}
    assert ready["projections"] == []  # the lag is for operators
    _, operator = await api.platform_admin()
    as_operator = api.bearer(await api.login(operator))
    async with asyncio.timeout(10):  # the lag is read by the probes' first round after start-up
        for _ in range(200):
            ready = (await api.client.get("/ready", headers=as_operator)).json()
            if ready["projections"]:
                break
            await asyncio.sleep(0.05)
    lag = {p["projection"]: p for p in ready["projections"]}
    assert {"catalog", "progress", "analytics", "reviews"} <= set(lag)
    assert all(p["events"] == p["head"] - max(p["position"], 0) for p in lag.values())
    await api.client.get("/auth/me")  # a 401, counted as an error of its route
    text = (await api.client.get("/metrics")).text
    assert 'cw_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/health",status="200"}' in text
    assert 'cw_http_errors_total{method="GET",route="/auth/me",status="401"} 1.0' in text


async def test_openapi_documents_every_route(api: Api) -> None:
    doc = (await api.client.get("/schema/openapi.json")).json()
    assert "BearerToken" in doc["components"]["securitySchemes"]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            assert op.get("summary"), (method, path)
            if path.startswith(("/courses", "/reviews", "/organisations", "/auth/register")) and method != "get":
                assert {"400", "404", "409", "413", "415", "422", "429"} <= set(op["responses"]), (method, path)


async def test_rate_limits_answer_429_with_retry_after(settings: Settings) -> None:
    async with running_gateway(settings) as api:
        _, address = await api.register()
        tokens = await api.login(address)
    limited = {"rate_limit_per_minute": 3, "login_rate_limit_per_minute": 2, "subject_prefix": f"rl{uuid4().hex[:8]}"}
    async with running_gateway(settings, **limited) as api:
        statuses = [(await api.client.get("/auth/me", headers=api.bearer(tokens))).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        r = await api.client.get("/auth/me", headers=api.bearer(tokens))
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        assert r.headers["content-type"].startswith("application/problem+json")
        # Another endpoint has its own budget; sign-in has a stricter one per address.
        assert (await api.client.get("/health")).status_code == 200
        logins = await asyncio.gather(
            *(api.client.post("/auth/login", json={"email": address, "password": "wrong password"}) for _ in range(3))
        )
        assert sorted(r.status_code for r in logins) == [401, 401, 429]


async def test_a_busy_user_spends_leased_permits_and_the_limit_still_holds(settings: Settings) -> None:
    async with running_gateway(settings) as api:
        _, address = await api.register()
        tokens = await api.login(address)
    limited = {"rate_limit_per_minute": 500, "subject_prefix": f"rl{uuid4().hex[:8]}"}
    async with running_gateway(settings, **limited) as api:
        limiter = next(m for m in api.app.middleware if isinstance(m, RateLimitMiddleware))
        hits = 0
        real_hit = limiter.limiter.hit

        async def counted(*args: Any, **kwargs: Any) -> bool:
            nonlocal hits
            hits += 1
            return bool(await real_hit(*args, **kwargs))

        limiter.limiter.hit = counted  # type: ignore[method-assign]
        statuses: list[int] = []
        for _ in range(13):  # 520 requests, 40 at a time
            batch = await asyncio.gather(*(api.client.get("/auth/me", headers=api.bearer(tokens)) for _ in range(40)))
            statuses += [r.status_code for r in batch]
        # Never one more than the limit; at most one lease (a fiftieth of it) left unspent, should
        # a pause outlast a lease's second.
        assert 490 <= statuses.count(200) <= 500
        assert statuses.count(200) + statuses.count(429) == 520
        assert hits < 200  # most permits came from leases, not from a round trip each
