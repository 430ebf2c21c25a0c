"""What a client is told about a bad request: every invalid field at once with its JSON pointer,
a missing body by name, a malformed id in the path by name (never the generic Not Found)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from infra.settings import Settings
from tests.integration.gateway_harness import QUERIES_DEPRECATIONS, Api, draft, new_id, people, running_gateway

pytestmark = QUERIES_DEPRECATIONS


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    async with running_gateway(settings) as a:
        yield a


async def test_every_invalid_field_is_reported_with_its_pointer(api: Api) -> None:
    o = await people(api)
    bad = {"title": "", "cefr_level": "Z9", "category": 3, "tags": ["ok", ""], "colour": "red"}
    r = await api.client.post("/courses", json=bad, headers=o.headers["author"])
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")
    pointers = [e["pointer"] for e in r.json()["errors"]]
    assert pointers == ["/title", "/cefr_level", "/category", "/tags/1", "/colour"]
    assert all(e["detail"] for e in r.json()["errors"])


async def test_a_missing_body_is_named(api: Api) -> None:
    r = await api.client.post("/auth/register")
    assert r.status_code == 400
    assert r.json()["detail"] == "a JSON body is required"
    assert r.json()["errors"] == [{"pointer": "", "detail": "a JSON body is required"}]


async def test_a_malformed_id_is_named_on_every_kind_of_path_parameter(api: Api) -> None:
    o = await people(api)
    course, _module, lesson = await draft(api, o)
    cases = {
        "/courses/not-a-uuid": "course_id 'not-a-uuid'",
        f"/courses/{course}/lessons/nope": "lesson_id 'nope'",
        f"/courses/{course}/lessons/{lesson}/content/first/restore": "version 'first'",
        "/users/42": "user_id '42'",
        "/reviews/x/approve": "review_id 'x'",
    }
    for path, named in cases.items():
        method = "POST" if path.endswith(("approve", "restore")) else "GET"
        r = await api.client.request(method, path, headers=o.headers["author"])
        assert r.status_code == 404, (path, r.text)
        assert r.json()["detail"].startswith(named), (path, r.text)
        assert "malformed" in r.json()["detail"]
    unknown = await api.client.get(f"/courses/{new_id()}/nowhere", headers=o.headers["author"])
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == "Not Found"
