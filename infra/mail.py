"""Outgoing mail: the `Mailer` port, SMTP delivery (aiosmtplib), and a directory of `.eml` files
for a machine without a mail service.

A running system hands every message to the outbox (`infra.outbox`), which delivers it through
one of these with retries; nothing sends straight from a request.

A message's body may carry a secret (a password-reset token), so it never appears in a log
line or a repr; logs name the recipient and the subject only.
"""

from __future__ import annotations

import asyncio
import os
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from urllib.parse import unquote, urlsplit
from uuid import uuid4

import aiosmtplib

from infra.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Mail:
    """One message to one recipient, in plain text."""

    to: str
    subject: str
    body: str = field(repr=False)
    key: str = ""  # stable across retries (the outbox's id): the Message-ID, so a resend is known


class MailRejected(Exception):
    """The mail server refused the message for good (a 5xx answer): sending it again is futile."""


def message_of(mail: Mail, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, mail.to, mail.subject
    message["Message-ID"] = f"<{mail.key}@coursewright>" if mail.key else make_msgid(domain="coursewright")
    message.set_content(mail.body)
    return message


class Mailer(ABC):
    """Delivers mail. The command bus calls it only after the commit that decided the mail."""

    @abstractmethod
    async def send(self, mail: Mail) -> None:
        """Hand `mail` over for delivery; raises when it could not be."""


class MailDirectory(Mailer):
    """Writes each message as an RFC 5322 `.eml` file into a directory (readable by its owner
    only), where a developer opens it; the mailer of a machine with no mail service."""

    def __init__(self, directory: Path, sender: str = "Coursewright <no-reply@coursewright.local>") -> None:
        self.directory = directory
        self.sender = sender

    async def send(self, mail: Mail) -> None:
        path = await asyncio.to_thread(self._write, mail)
        log.info("mail.written", to=mail.to, subject=mail.subject, path=str(path))

    def _write(self, mail: Mail) -> Path:
        message = message_of(mail, self.sender)
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{time.time_ns()}-{uuid4().hex[:8]}.eml"
        partial = path.with_suffix(".part")
        # Written whole, then renamed: a reader never sees half a message.
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(message.as_bytes())
        partial.rename(path)
        return path


class SmtpMailer(Mailer):
    """Hands each message to an SMTP server (aiosmtplib): `smtp://host:port` (STARTTLS when the
    server offers it) or `smtps://host:port` (TLS from the start), with user and password in
    the URL when the server wants them."""

    def __init__(self, url: str, sender: str, *, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("the SMTP URL must be smtp://host[:port] or smtps://host[:port]")
        self.tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.sender = sender
        self.timeout = timeout

    async def send(self, mail: Mail) -> None:
        try:
            await aiosmtplib.send(
                message_of(mail, self.sender),
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                use_tls=self.tls,
                start_tls=None if not self.tls else False,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as e:
            raise MailRejected(f"recipient refused: {mail.to}") from e
        except aiosmtplib.SMTPResponseException as e:
            if e.code >= 500:
                raise MailRejected(f"{e.code} {e.message}") from e
            raise
