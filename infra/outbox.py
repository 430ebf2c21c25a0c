"""The mail outbox: every mail the system sends goes through the table `cw_mail_outbox`.

Writers (`enqueue`): the notifications projector, in the transaction of the batch that made the
notification (its id is the mail's), and `OutboxMailer`, the `Mailer` port of a running system's
commands (the password-reset mail), right after the command committed. A mail's id is stable,
so writing it again (a replayed batch, a rebuild) adds nothing.

The worker (`MailDelivery`, component `mail`) claims due mail for a lease, hands each to the
transport (SMTP, or `.eml` files when no SMTP server is configured), and marks it sent, blanking
its body. A failure is counted and the mail waits `Backoff.delay(attempts)` before the next try;
only a permanent refusal (5xx, `MailRejected`) ends the tries. A worker that dies leaves its
claims to expire and be taken again; a mail is sent twice only if the worker dies between the
server's acceptance and the mark, and then carries the same Message-ID both times. Sent mail is
kept `keep_sent` (its id stops a replay from queueing it again meanwhile), then deleted by the
worker's loop, a bounded batch at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import timedelta
from typing import Any
from uuid import UUID

import psycopg

from infra.backoff import Backoff
from infra.logging import get_logger
from infra.mail import Mail, Mailer, MailRejected

log = get_logger(__name__)

_INSERT = (
    "INSERT INTO public.cw_mail_outbox (mail_id, recipient, subject, body, link) VALUES (%s, %s, %s, %s, %s)"
    " ON CONFLICT (mail_id) DO NOTHING"
)
_CLAIM = """
UPDATE cw_mail_outbox SET leased_until = now() + make_interval(secs => %s)
WHERE mail_id IN (
    SELECT mail_id FROM cw_mail_outbox
    WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= now()
      AND (leased_until IS NULL OR leased_until < now())
    ORDER BY next_attempt_at
    LIMIT %s
    FOR UPDATE SKIP LOCKED
)
RETURNING mail_id, recipient, subject, body, link, attempts
"""
_SENT = (
    "UPDATE cw_mail_outbox SET sent_at = now(), body = '', leased_until = NULL, last_error = NULL WHERE mail_id = %s"
)
_RETRY = (
    "UPDATE cw_mail_outbox SET attempts = attempts + 1, leased_until = NULL, last_error = %s,"
    " next_attempt_at = now() + make_interval(secs => %s) WHERE mail_id = %s"
)
_PURGE = (
    "DELETE FROM cw_mail_outbox WHERE mail_id IN ("
    " SELECT mail_id FROM cw_mail_outbox WHERE sent_at < now() - %s LIMIT %s FOR UPDATE SKIP LOCKED)"
)
_FAILED = (
    "UPDATE cw_mail_outbox SET attempts = attempts + 1, leased_until = NULL, last_error = %s, failed_at = now(),"
    " body = '' WHERE mail_id = %s"
)


async def enqueue(conn: psycopg.AsyncConnection[Any], mail_id: UUID, mail: Mail, link: str = "") -> None:
    """Add `mail` to the outbox in `conn`'s transaction; nothing if `mail_id` is there already.
    `link`, a path of the platform, is added to the body as a full address when it is sent."""
    await conn.execute(_INSERT, [mail_id, mail.to, mail.subject, mail.body, link])


class OutboxMailer(Mailer):
    """The `Mailer` of a running system's commands: each mail goes into the outbox (its own
    short connection: mail of commands is rare, a password reset), the mail worker sends it."""

    def __init__(self, dsn: str, new_id: Any) -> None:
        self.dsn = dsn
        self.new_id = new_id  # () -> UUID

    async def send(self, mail: Mail) -> None:
        async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
            await enqueue(conn, self.new_id(), mail)
        log.info("mail.queued", to=mail.to, subject=mail.subject)


class MailDelivery:
    """Sends what the outbox holds through `transport` until cancelled."""

    def __init__(
        self,
        dsn: str,
        transport: Mailer,
        *,
        public_url: str = "",
        retry: Backoff | None = None,
        poll_seconds: float = 1.0,
        lease_seconds: float = 120.0,
        batch: int = 20,
        keep_sent: timedelta = timedelta(days=7),
        purge_every_s: float = 600.0,
    ) -> None:
        self.dsn = dsn
        self.transport = transport
        self.public_url = public_url.rstrip("/")
        self.retry = retry or Backoff(initial=2.0, maximum=300.0)
        self.poll_seconds = poll_seconds
        self.lease_seconds = lease_seconds
        self.batch = batch
        self.keep_sent = keep_sent
        self.purge_every_s = purge_every_s
        self.sent = 0
        self.failures = 0
        self.purged = 0

    async def run(self) -> None:
        outage = Backoff(initial=0.5, maximum=10.0)
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
                    outage.reset()
                    purge_at = time.monotonic()
                    while True:
                        if time.monotonic() >= purge_at:
                            await self.purge_sent(conn)
                            purge_at = time.monotonic() + self.purge_every_s
                        if await self.deliver_once(conn) < self.batch:
                            await asyncio.sleep(self.poll_seconds)
            except psycopg.OperationalError as e:  # the database is away: wait for it
                log.warning("mail.database_unavailable", error=str(e))
                await outage.sleep()

    async def purge_sent(self, conn: psycopg.AsyncConnection[Any], chunk: int = 5000) -> int:
        """Delete the mail sent more than `keep_sent` ago, `chunk` rows per statement; how many."""
        deleted = 0
        while True:
            cur = await conn.execute(_PURGE, [self.keep_sent, chunk])
            deleted += cur.rowcount
            if cur.rowcount < chunk:
                break
        if deleted:
            self.purged += deleted
            log.info("mail.purged", sent_rows=deleted)
        return deleted

    async def deliver_once(self, conn: psycopg.AsyncConnection[Any]) -> int:
        """Claim due mail and try each once; how many were claimed."""
        cur = await conn.execute(_CLAIM, [self.lease_seconds, self.batch])
        claimed = await cur.fetchall()
        for mail_id, recipient, subject, body, link, attempts in claimed:
            text = f"{body}\n\n{self.public_url}{link}\n" if link else body
            mail = Mail(recipient, subject, text, key=str(mail_id))
            try:
                await self.transport.send(mail)
            except asyncio.CancelledError:
                raise
            except MailRejected as e:
                await conn.execute(_FAILED, [str(e)[:500], mail_id])
                log.error("mail.rejected", to=recipient, subject=subject, error=str(e)[:200])
                continue
            except Exception as e:
                self.failures += 1
                delay = self.retry.delay(attempts + 1)
                await conn.execute(_RETRY, [repr(e)[:500], delay, mail_id])
                log.warning(
                    "mail.retry", to=recipient, attempt=attempts + 1, delay=round(delay, 2), error=repr(e)[:200]
                )
                continue
            with contextlib.suppress(psycopg.OperationalError):  # unmarked: sent again later
                await conn.execute(_SENT, [mail_id])
            self.sent += 1
            log.info("mail.sent", to=recipient, subject=subject, attempt=attempts + 1)
        return len(claimed)
