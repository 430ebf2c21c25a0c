"""Outgoing mail: the `Mailer` port and its implementation for a machine without a mail service.

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
from pathlib import Path
from uuid import uuid4

from infra.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Mail:
    """One message to one recipient, in plain text."""

    to: str
    subject: str
    body: str = field(repr=False)


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
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, mail.to, mail.subject
        message.set_content(mail.body)
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{time.time_ns()}-{uuid4().hex[:8]}.eml"
        partial = path.with_suffix(".part")
        # Written whole, then renamed: a reader never sees half a message.
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(message.as_bytes())
        partial.rename(path)
        return path
