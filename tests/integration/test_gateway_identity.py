"""Identity over HTTP on the real services: registration, tokens, passwords, bootstrap."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from uuid import UUID, uuid4

import jwt
import pytest

from domain.identity import email_claim_id
from infra.settings import Settings
from infra.tokens import AccessTokens
from tests.conftest import make_settings
from tests.integration.gateway_harness import (
    PASSWORD,
    QUERIES_DEPRECATIONS,
    Api,
    email,
    running_gateway,
)
from tests.ports import RecordingMailer, make_ports, reset_token

pytestmark = QUERIES_DEPRECATIONS


@pytest.fixture
def mailer() -> RecordingMailer:
    return RecordingMailer()


@pytest.fixture
async def api(settings: Settings, mailer: RecordingMailer) -> AsyncIterator[Api]:
    async with running_gateway(settings, ports=make_ports(mail=mailer)) as a:
        yield a


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forge(header: dict[str, str], claims: dict[str, object], key: bytes | None) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest() if key else b""
    return f"{signing_input}.{_b64(signature)}"


async def _status(api: Api, token: str) -> tuple[int, str]:
    r = await api.client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert r.headers["content-type"].startswith("application/problem+json") or r.status_code == 200
    return r.status_code, r.json().get("code", "")


async def test_register_login_me(api: Api) -> None:
    user_id, address = await api.register(name="Ada Lovelace")
    tokens = await api.login(address.upper())  # addresses are case-insensitive
    r = await api.client.get("/auth/me", headers=api.bearer(tokens))
    assert r.status_code == 200
    me = r.json()
    assert (me["user_id"], me["email"], me["name"]) == (str(user_id), address, "Ada Lovelace")
    assert me["roles"] == [] and me["memberships"] == []
    assert tokens["expires_in"] == 15 * 60


async def test_duplicate_email_and_wrong_password(api: Api) -> None:
    _, address = await api.register()
    r = await api.client.post("/auth/register", json={"email": address, "password": PASSWORD, "name": "Again"})
    assert r.status_code == 409 and r.json()["code"] == "email_taken"
    for body in ({"email": address, "password": "wrong password!"}, {"email": email(), "password": PASSWORD}):
        r = await api.client.post("/auth/login", json=body)
        assert r.status_code == 401 and r.json()["code"] == "invalid_credentials"


async def test_concurrent_registrations_of_one_email_make_one_account(api: Api) -> None:
    address = email()
    results = await asyncio.gather(
        *(
            api.client.post("/auth/register", json={"email": address, "password": PASSWORD, "name": f"n{i}"})
            for i in range(12)
        )
    )
    statuses = sorted(r.status_code for r in results)
    assert statuses == [201] + [409] * 11, statuses
    claim = await api.services.store.read_stream(email_claim_id(address))
    assert [e.event_type for e in claim] == ["EmailAddressClaimed"]
    winner = next(r for r in results if r.status_code == 201).json()["id"]
    assert json.loads(bytes(claim[0].payload))["user_id"] == winner


async def test_expired_tampered_and_wrong_algorithm_tokens_are_401(api: Api, settings: Settings) -> None:
    user_id, address = await api.register()
    good = (await api.login(address))["access_token"]
    assert (await _status(api, good))[0] == 200
    secret = settings.jwt_secret.get_secret_value()
    claims = jwt.decode(good, secret, algorithms=["HS256"], issuer="coursewright")

    expired = AccessTokens(secret, timedelta(seconds=-30)).issue(
        user_id, UUID(claims["org"]), [], address, UUID(claims["fam"])
    )
    header, _payload, signature = good.split(".")
    raised = {**claims, "roles": ["platform_admin"]}
    tampered = f"{header}.{_b64(json.dumps(raised).encode())}.{signature}"
    alg_none = _forge({"alg": "none", "typ": "JWT"}, raised, None)
    rs256_with_hs_key = _forge({"alg": "RS256", "typ": "JWT"}, raised, secret.encode())
    other_key = jwt.encode(raised, "another secret that is long enough to be used", algorithm="HS256")
    for token, code in [
        (expired, "invalid_token"),
        (tampered, "invalid_token"),
        (alg_none, "invalid_token"),
        (rs256_with_hs_key, "invalid_token"),
        (other_key, "invalid_token"),
        ("not-a-jwt", "invalid_token"),
    ]:
        assert await _status(api, token) == (401, code), token
    r = await api.client.get("/auth/me")
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    r = await api.client.get("/auth/me", headers={"Authorization": "Basic Zm9vOmJhcg=="})
    assert r.status_code == 401


async def test_refresh_rotates_and_reuse_revokes_the_family(api: Api) -> None:
    _, address = await api.register()
    first = await api.login(address)
    r = await api.client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await _status(api, second["access_token"]))[0] == 200
    # The first token again: someone holds a copy. The whole sign-in ends.
    r = await api.client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 401 and r.json()["code"] == "refresh_token_reused"
    r = await api.client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert r.status_code == 401
    assert (await _status(api, second["access_token"]))[0] == 401
    # Another sign-in of the same user is untouched.
    other = await api.login(address)
    assert (await _status(api, other["access_token"]))[0] == 200
    for junk in ("junk", f"{uuid4().hex}.secret", "a" * 400):
        r = await api.client.post("/auth/refresh", json={"refresh_token": junk})
        assert r.status_code == 401, junk


async def test_logout_revokes_access_and_refresh(api: Api) -> None:
    _, address = await api.register()
    tokens = await api.login(address)
    r = await api.client.post(
        "/auth/logout", json={"refresh_token": tokens["refresh_token"]}, headers=api.bearer(tokens)
    )
    assert r.status_code == 204
    assert (await _status(api, tokens["access_token"]))[0] == 401
    r = await api.client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 401


async def test_password_change_revokes_every_sign_in(api: Api) -> None:
    _, address = await api.register()
    a, b = await api.login(address), await api.login(address)
    r = await api.client.post(
        "/auth/password",
        json={"current_password": "not my password", "new_password": "a brand new passphrase"},
        headers=api.bearer(a),
    )
    assert r.status_code == 403 and r.json()["code"] == "wrong_password"
    r = await api.client.post(
        "/auth/password",
        json={"current_password": PASSWORD, "new_password": "a brand new passphrase"},
        headers=api.bearer(a),
    )
    assert r.status_code == 202, r.text
    for tokens in (a, b):
        assert (await _status(api, tokens["access_token"]))[0] == 401
        r = await api.client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert r.status_code == 401
    r = await api.client.post("/auth/login", json={"email": address, "password": PASSWORD})
    assert r.status_code == 401
    await api.login(address, password="a brand new passphrase")


async def test_password_reset_is_single_use_and_tells_nothing(api: Api, mailer: RecordingMailer) -> None:
    _, address = await api.register()
    known = await api.client.post("/auth/password-reset", json={"email": address})
    unknown = await api.client.post("/auth/password-reset", json={"email": email()})
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert [m.to for m in mailer.sent] == [address]
    token = reset_token(mailer.sent[0])

    r = await api.client.post(
        "/auth/password-reset/confirm", json={"token": token[:-2] + "xx", "new_password": "reset passphrase 1"}
    )
    assert r.status_code == 422 and r.json()["code"] == "invalid_reset_token"
    r = await api.client.post(
        "/auth/password-reset/confirm", json={"token": token, "new_password": "reset passphrase 1"}
    )
    assert r.status_code == 202, r.text
    r = await api.client.post(
        "/auth/password-reset/confirm", json={"token": token, "new_password": "reset passphrase 2"}
    )
    assert r.status_code == 422
    await api.login(address, password="reset passphrase 1")


async def test_profile_update_and_visibility(api: Api) -> None:
    org, admin = await api.organisation()
    instructor_id, instructor = await api.member(org, admin, "instructor")
    r = await api.client.put("/auth/me/profile", json={"name": "Grace", "bio": "Teaches COBOL"}, headers=instructor)
    assert r.status_code == 202
    r = await api.client.get(f"/users/{instructor_id}", headers=admin)
    assert r.status_code == 200 and r.json() == {"user_id": str(instructor_id), "name": "Grace", "bio": "Teaches COBOL"}
    _, stranger = await api.register()
    r = await api.client.get(f"/users/{instructor_id}", headers=api.bearer(await api.login(stranger)))
    assert r.status_code == 404


async def test_first_user_bootstraps_as_platform_admin(fresh_database: str) -> None:
    root = email()
    async with running_gateway(make_settings(fresh_database), bootstrap_admin_email=root) as api:
        _, other = await api.register()
        await api.register(root)
        r = await api.client.get("/auth/me", headers=api.bearer(await api.login(root)))
        assert r.json()["platform_admin"] is True and r.json()["roles"] == ["platform_admin"]
        r = await api.client.get("/auth/me", headers=api.bearer(await api.login(other)))
        assert r.json()["platform_admin"] is False
        r = await api.client.post("/organisations", json={"name": "Acme"}, headers=api.bearer(await api.login(other)))
        assert r.status_code == 403


async def test_token_lifetime_is_fifteen_minutes(api: Api) -> None:
    _, address = await api.register()
    tokens = await api.login(address)
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 900
