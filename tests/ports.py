"""The tests' own ports, each a subclass of the real port (so it cannot drift from it)."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta

from commands.documents import SopDocuments
from commands.ports import Clock, Ports, SystemClock, TimeOrderedIds
from infra.eventlog.seals import SealKey
from infra.mail import Mail, Mailer
from infra.passwords import Argon2Passwords
from tests.memory_blobstore import MemoryBlobStore

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
_RESET_TOKEN = re.compile(r"^([0-9a-f]{32}\.[\w-]+)$", re.M)


class RecordingMailer(Mailer):
    """Keeps every message it is handed, in order."""

    def __init__(self) -> None:
        self.sent: list[Mail] = []

    async def send(self, mail: Mail) -> None:
        self.sent.append(mail)


class FixedClock(Clock):
    """Stands still at `at` until moved."""

    def __init__(self, at: datetime = T0) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, by: timedelta) -> None:
        self.at += by


def make_ports(
    *,
    mail: Mailer | None = None,
    clock: Clock | None = None,
    documents: SopDocuments | None = None,
    signer: SealKey | None = None,
) -> Ports:
    """Ports for a test: mail recorded, real argon2id at its lowest cost, the given clock (the
    system's by default: projections measure lag against real time), UUIDv7, and the given SOP
    documents (in memory by default; tests of documents hand in the real S3's)."""
    return Ports(
        mail=mail or RecordingMailer(),
        passwords=Argon2Passwords(time_cost=1, memory_cost=8),
        clock=clock or SystemClock(),
        ids=TimeOrderedIds(),
        documents=documents or SopDocuments(MemoryBlobStore(), max_bytes=1_000_000, order_max_bytes=5_000_000),
        signer=signer or SealKey.from_hex(os.urandom(32).hex()),
    )


def reset_token(mail: Mail) -> str:
    """The password-reset token a mail carries (on a line of its own)."""
    found = _RESET_TOKEN.search(mail.body)
    assert found is not None, f"no reset token in the mail {mail.subject!r}"
    return found.group(1)
