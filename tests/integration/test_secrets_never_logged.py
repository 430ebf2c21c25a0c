"""No secret reaches a log line: the sign-in, refresh, reset and password flows over HTTP on the
real services, every line captured at DEBUG after our processors, searched for each secret."""

from __future__ import annotations

import email
import email.policy
import json
import logging
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from infra.logging import shared_processors
from infra.mail import MailDirectory
from infra.settings import Settings
from tests.integration.gateway_harness import PASSWORD, QUERIES_DEPRECATIONS, running_gateway
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

    written = [json.dumps(line, default=repr) for line in lines]
    written += [f"{record.getMessage()} {record.__dict__}" for record in caplog.records]
    assert any('"mail.written"' in line for line in written), "the reset mail was not logged at all"
    assert sum('"http.request"' in line for line in written) >= 10, "the requests were not logged"
    for secret in secrets:
        leaks = [line for line in written if secret in line]
        assert not leaks, f"a secret in the log: {leaks[0][:300]}"
