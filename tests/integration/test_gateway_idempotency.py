"""Idempotency-Key on the POSTs that are not commands: sign-in, token refresh, sign-out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import uuid4

import pytest

from infra.settings import Settings
from tests.integration.gateway_harness import PASSWORD, QUERIES_DEPRECATIONS, Api, running_gateway

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
