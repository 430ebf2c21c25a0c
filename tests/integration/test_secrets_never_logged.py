"""No secret reaches a log line: the sign-in, refresh, reset and password flows, and the newer
credentials (API keys, stream tickets, presigned S3 URLs, the S3 and seal keys), over HTTP on the
real services, every line captured at DEBUG after our processors, searched for each secret."""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs

from commands.documents import SopDocuments
from infra.blobs.s3 import S3BlobStore
from infra.eventlog.seals import SealKey
from infra.logging import shared_processors
from infra.mail import MailDirectory
from infra.settings import Settings
from tests.integration.gateway_harness import PASSWORD, QUERIES_DEPRECATIONS, running_gateway
from tests.integration.presigned import http
from tests.integration.projections_support import projectors, relay
from tests.integration.test_orders import ORDER, PDF
from tests.ports import make_ports

pytestmark = QUERIES_DEPRECATIONS


def mailed_token(directory: Path) -> str:
    """The reset token in the one message the mailer wrote."""
    (path,) = directory.glob("*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    body = message.get_body().get_content()  # type: ignore[union-attr]
    (token,) = [line for line in body.splitlines() if line.count(".") == 1 and " " not in line]
    return token


async def test_the_identity_flows_write_no_secret_to_any_log_line(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    outbox = tmp_path / "mail"
    secrets = [PASSWORD, settings.jwt_secret.get_secret_value()]
    with capture_logs(processors=shared_processors()) as lines:
        async with running_gateway(settings, ports=make_ports(mail=MailDirectory(outbox))) as api:
            _, address = await api.register()
            signed_in = await api.login(address)
            r = await api.client.post("/auth/refresh", json={"refresh_token": signed_in["refresh_token"]})
            assert r.status_code == 200, r.text
            renewed = r.json()
            # A refresh token used twice ends the sign-in, and is logged as a reuse.
            r = await api.client.post("/auth/refresh", json={"refresh_token": signed_in["refresh_token"]})
            assert r.status_code == 401
            r = await api.client.post("/auth/login", json={"email": address, "password": "a wrong passphrase"})
            assert r.status_code == 401

            assert (await api.client.post("/auth/password-reset", json={"email": address})).status_code == 202
            reset = mailed_token(outbox)
            r = await api.client.post(
                "/auth/password-reset/confirm", json={"token": reset, "new_password": "reset passphrase 1"}
            )
            assert r.status_code == 202, r.text
            again = await api.login(address, password="reset passphrase 1")
            r = await api.client.post(
                "/auth/password",
                json={"current_password": "reset passphrase 1", "new_password": "changed passphrase 2"},
                headers=api.bearer(again),
            )
            assert r.status_code == 202, r.text
            last = await api.login(address, password="changed passphrase 2")
            r = await api.client.post(
                "/auth/logout", json={"refresh_token": last["refresh_token"]}, headers=api.bearer(last)
            )
            assert r.status_code == 204, r.text
    secrets += ["a wrong passphrase", "reset passphrase 1", "changed passphrase 2", reset, reset.split(".")[1]]
    for pair in (signed_in, renewed, again, last):
        secrets += [pair["access_token"], pair["refresh_token"]]

    written = _written(lines, caplog)
    assert any('"mail.written"' in line for line in written), "the reset mail was not logged at all"
    assert sum('"http.request"' in line for line in written) >= 10, "the requests were not logged"
    _assert_nowhere(secrets, written)


async def test_api_keys_tickets_and_presigned_urls_write_no_secret_to_any_log_line(
    settings: Settings, blobs: S3BlobStore, nats_cleanup: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seal_key = os.urandom(32).hex()
    settings = settings.model_copy(update={"audit_seal_key": SecretStr(seal_key)})
    secrets = [settings.s3_secret_key.get_secret_value(), settings.jwt_secret.get_secret_value(), seal_key]
    documents = SopDocuments(blobs, max_bytes=100_000, order_max_bytes=200_000)
    with capture_logs(processors=shared_processors()) as lines:
        gateway = running_gateway(settings, ports=make_ports(documents=documents, signer=SealKey.from_hex(seal_key)))
        async with (
            gateway as api,
            relay(settings),
            projectors(settings, "orders", "notifications", cache=api.root.cache),
        ):
            org, admin = await api.organisation()
            r = await api.client.post(
                f"/organisations/{org}/api-keys", json={"name": "CRM", "role": "sales"}, headers=admin
            )
            assert r.status_code == 201, r.text
            key = r.json()["key"]
            sales = {"Authorization": f"Bearer {key}"}
            r = await api.client.post("/orders", json=ORDER, headers=sales)
            assert r.status_code == 201, r.text
            order = r.json()["id"]
            begun = await api.client.post(f"/orders/{order}/uploads", headers=sales)
            assert begun.status_code == 201, begun.text
            upload = begun.json()["data"]
            assert await http("PUT", upload["url"], PDF) == (200, b"")
            r = await api.client.post(
                f"/orders/{order}/uploads/{upload['upload_id']}",
                json={"name": "scan.pdf", "size": len(PDF), "sha256": hashlib.sha256(PDF).hexdigest()},
                headers=sales,
            )
            assert r.status_code == 201, r.text
            seen = {"position": r.json()["position"]}
            assert (await api.client.get(f"/orders/{order}", params=seen, headers=sales)).status_code == 200
            link = await api.client.get(f"/orders/{order}/documents/{hashlib.sha256(PDF).hexdigest()}", headers=sales)
            assert link.status_code == 200, link.text
            assert (await api.client.get("/orders", headers={"Authorization": f"Bearer {key}x"})).status_code == 401

            r = await api.client.post("/me/notifications/stream-ticket", headers=admin)
            assert r.status_code == 200, r.text
            ticket = r.json()["ticket"]
            async with api.client.stream("GET", r.json()["url"]) as response:
                assert response.status_code == 200
    secrets += [key, key.removeprefix("cwk_"), ticket, admin["Authorization"].removeprefix("Bearer ")]
    for url in (upload["url"], link.json()["url"]):
        secrets += [v for name, (v,) in parse_qs(urlsplit(url).query).items() if name.endswith("Signature")]
        secrets.append(urlsplit(url).query)

    written = _written(lines, caplog)
    assert sum('"http.request"' in line for line in written) >= 8, "the requests were not logged"
    _assert_nowhere(secrets, written)


def _written(lines: Sequence[Mapping[str, Any]], caplog: pytest.LogCaptureFixture) -> list[str]:
    """Every line as written: ours after the processors, and the standard library's records but
    those of the test's own HTTP client (httpx logs the URLs it requests, tickets included)."""
    written = [json.dumps(line, default=repr) for line in lines]
    records = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    return written + [f"{record.getMessage()} {record.__dict__}" for record in records]


def _assert_nowhere(secrets: list[str], written: list[str]) -> None:
    assert all(len(secret) >= 8 for secret in secrets), "a secret too short to search for"
    for secret in secrets:
        leaks = [line for line in written if secret in line]
        assert not leaks, f"a secret in the log: {leaks[0][:300]}"
