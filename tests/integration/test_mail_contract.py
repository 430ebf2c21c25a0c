"""The mailer port's contract, run against the tests' recording mailer and the real transports
(`.eml` files, SMTP to a local aiosmtpd server): what a handler's test sees of its mail is what a
mail server gets."""

from __future__ import annotations

import email
import email.message
import email.policy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from infra.mail import Mail, MailDirectory, Mailer, SmtpMailer, message_of
from tests.integration.test_notifications import Inbox, free_port, smtp_server
from tests.ports import RecordingMailer

SENDER = "Coursewright <no-reply@coursewright.test>"
Received = tuple[str, str, str, str]  # recipient, subject, body (its lines), Message-ID


def _fields(message: email.message.EmailMessage) -> Received:
    body = message.get_body()
    assert body is not None
    return (
        str(message["To"]),
        str(message["Subject"]),
        "\n".join(body.get_content().splitlines()),
        str(message["Message-ID"]),
    )


def _read(path: Path) -> email.message.EmailMessage:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


@dataclass
class Transport:
    mailer: Mailer
    received: Callable[[], list[Received]]  # what reached the other side, in order


@pytest.fixture(params=["recording", "directory", "smtp"])
def transport(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Transport]:
    if request.param == "recording":
        recording = RecordingMailer()
        yield Transport(recording, lambda: [_fields(message_of(m, SENDER)) for m in recording.sent])
    elif request.param == "directory":
        yield Transport(
            MailDirectory(tmp_path, SENDER), lambda: [_fields(_read(p)) for p in sorted(tmp_path.glob("*.eml"))]
        )
    else:
        inbox, port = Inbox(), free_port()
        with smtp_server(port, inbox):
            mailer = SmtpMailer(f"smtp://127.0.0.1:{port}", SENDER, timeout=5)
            yield Transport(mailer, lambda: [_fields(m) for m in inbox.all()])


async def test_each_mail_arrives_once_in_order_with_its_recipient_subject_and_body(transport: Transport) -> None:
    first = Mail("ada@example.com", "Reset your password", "Open this link within an hour.", key="k1")
    second = Mail("bob@example.com", "Kurs veröffentlicht: Gabelstapler", "Grüße,\nIhr Team", key="k2")
    await transport.mailer.send(first)
    await transport.mailer.send(second)
    assert transport.received() == [(m.to, m.subject, m.body, f"<{m.key}@coursewright>") for m in (first, second)]
