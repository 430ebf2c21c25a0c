"""Idempotency-Key over HTTP: commands (kept in the event store by the bus) and the POSTs that
are not commands (sign-in, token refresh, sign-out; kept in Redis). Either way a key is bound to
its first request: the same request again is answered alike, another body, route or caller is
refused with 422."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from uuid import UUID, uuid4

import pytest

from infra.settings import Settings
from tests.integration.gateway_harness import DETAILS, PASSWORD, QUERIES_DEPRECATIONS, Api, running_gateway

pytestmark = QUERIES_DEPRECATIONS


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    async with running_gateway(settings) as a:
        yield a


async def test_a_retried_login_gets_the_first_answer(api: Api) -> None:
    _, address = await api.register()
    body = {"email": address, "password": PASSWORD}
    key = {"Idempotency-Key": f"login-{uuid4()}"}
    first = await api.client.post("/auth/login", json=body, headers=key)
    again = await api.client.post("/auth/login", json=body, headers=key)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    fresh = await api.client.post("/auth/login", json=body)
    assert fresh.json()["refresh_token"] != first.json()["refresh_token"]


async def test_a_retried_refresh_is_not_taken_for_token_reuse(api: Api) -> None:
    _, address = await api.register()
    tokens = await api.login(address)
    key = {"Idempotency-Key": f"refresh-{uuid4()}"}
    body = {"refresh_token": tokens["refresh_token"]}
    first = await api.client.post("/auth/refresh", json=body, headers=key)
    again = await api.client.post("/auth/refresh", json=body, headers=key)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    # The rotated pair still works: the retry did not count as reuse of the old token.
    me = await api.client.get("/auth/me", headers=api.bearer(first.json()))
    assert me.status_code == 200
    # Without the key, presenting the spent token again is reuse, and it ends the sign-in.
    reused = await api.client.post("/auth/refresh", json=body)
    assert reused.status_code == 401


async def test_the_same_key_with_another_body_is_refused(api: Api) -> None:
    _, address = await api.register()
    key = {"Idempotency-Key": f"login-{uuid4()}"}
    await api.client.post("/auth/login", json={"email": address, "password": PASSWORD}, headers=key)
    other = await api.client.post("/auth/login", json={"email": address, "password": "not the one"}, headers=key)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"


async def test_the_same_key_on_another_route_is_refused(api: Api) -> None:
    _, address = await api.register()
    tokens = await api.login(address)
    key = {"Idempotency-Key": f"k-{uuid4()}"} | api.bearer(tokens)
    first = await api.client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]}, headers=key)
    assert first.status_code == 200
    other = await api.client.post("/auth/logout", json={}, headers=key)
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    assert "/auth/refresh" in other.json()["detail"]


async def test_a_command_key_is_bound_to_its_body_route_and_caller(api: Api) -> None:
    org, admin = await api.organisation()
    _, author = await api.member(org, admin, "instructor")
    _, colleague = await api.member(org, admin, "instructor")
    key = {"Idempotency-Key": f"k-{uuid4()}"}
    first = await api.client.post("/courses", json=DETAILS, headers=author | key)
    assert first.status_code == 201, first.text
    # The same body in another spelling (key order, spaces) is the same request.
    spelled = json.dumps(dict(reversed(list(DETAILS.items()))), indent=2)
    again = await api.client.post(
        "/courses", content=spelled, headers=author | key | {"content-type": "application/json"}
    )
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    assert again.json()["replayed"] is True
    course = first.json()["id"]
    refused = {
        "with another body": await api.client.post("/courses", json=DETAILS | {"title": "B"}, headers=author | key),
        "for another command": await api.client.post(
            f"/courses/{course}/modules", json={"title": "M"}, headers=author | key
        ),
        "by another caller": await api.client.post("/courses", json=DETAILS, headers=colleague | key),
    }
    for why, reply in refused.items():
        problem = reply.json()
        assert (reply.status_code, problem["code"]) == (422, "idempotency_key_reused"), (why, problem)
        assert why in problem["detail"] and problem["type"] == "urn:coursewright:problem:idempotency_key_reused"
    assert len(await api.services.store.read_stream(UUID(course))) == 1
