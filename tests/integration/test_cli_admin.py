"""`coursewright admin grant|create` as an operator runs them: a subprocess on the real servers."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from infra.settings import Settings
from tests.conftest import service_env
from tests.integration.gateway_harness import PASSWORD, QUERIES_DEPRECATIONS, Api, email, running_gateway

pytestmark = QUERIES_DEPRECATIONS


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    async with running_gateway(settings) as a:
        yield a


def admin(settings: Settings, tmp_path: Path, *args: str, password: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **service_env(settings), "CW_ADMIN_PASSWORD": password}
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "admin", *args],
        cwd=tmp_path,  # no developer .env file is picked up
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def creates_an_organisation(api: Api, address: str) -> int:
    tokens = await api.login(address)
    r = await api.client.post("/organisations", json={"name": "Acme"}, headers=api.bearer(tokens))
    return r.status_code


async def test_grant_makes_an_early_registrant_the_first_admin(api: Api, settings: Settings, tmp_path: Path) -> None:
    # Registered before any CW_BOOTSTRAP_ADMIN_EMAIL: the operator can still make them admin.
    _, address = await api.register()
    assert await creates_an_organisation(api, address) == 403
    done = admin(settings, tmp_path, "grant", address)
    assert done.returncode == 0, done.stderr
    assert await creates_an_organisation(api, address) == 201


async def test_grant_of_an_unknown_email_fails_with_a_message(settings: Settings, tmp_path: Path) -> None:
    done = admin(settings, tmp_path, "grant", email())
    assert done.returncode == 1
    assert "no user is registered with this email" in done.stderr


async def test_create_registers_an_admin_who_can_sign_in(api: Api, settings: Settings, tmp_path: Path) -> None:
    address = email()
    done = admin(settings, tmp_path, "create", address, "--name", "Ops", password=PASSWORD)
    assert done.returncode == 0, done.stderr
    assert await creates_an_organisation(api, address) == 201
    again = admin(settings, tmp_path, "create", address, password=PASSWORD)
    assert again.returncode == 1
    assert "already registered" in again.stderr


async def test_grant_auditor_opens_every_organisations_audit_until_revoked(
    api: Api, settings: Settings, tmp_path: Path
) -> None:
    org, _ = await api.organisation()
    _, address = await api.register()
    assert (await api.client.get("/audit/log/verify", headers=api.bearer(await api.login(address)))).status_code == 403
    done = admin(settings, tmp_path, "grant-auditor", address)
    assert done.returncode == 0, done.stderr
    signed_in = api.bearer(await api.login(address))  # the role comes with the next sign-in
    assert (await api.client.get("/audit/log/verify", headers=signed_in)).status_code == 200
    assert (await api.client.get(f"/audit/organisations/{org}/verify", headers=signed_in)).status_code == 200
    again = admin(settings, tmp_path, "grant-auditor", address)
    assert again.returncode == 1 and "is a platform auditor already" in again.stderr
    done = admin(settings, tmp_path, "revoke-auditor", address)
    assert done.returncode == 0, done.stderr
    assert (await api.client.get("/audit/log/verify", headers=signed_in)).status_code == 401  # sign-ins ended
    assert (await api.client.get("/audit/log/verify", headers=api.bearer(await api.login(address)))).status_code == 403
