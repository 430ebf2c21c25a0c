"""Mail leaves only after the commit that decided it: once per committed decision, never for a
decision that was retried, refused, replayed or not stored."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Awaitable, Callable
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from structlog.testing import capture_logs

from commands.bus import CommandBus, Decided
from commands.context import Context
from commands.routes import ROUTES
from commands.session import Session
from domain import errors
from domain.identity import email_claim_id
from infra.errors import Unavailable
from infra.eventlog import AppendResult, Commit
from infra.eventlog.memory import InMemoryEventStore
from infra.mail import Mail, MailDirectory
from schemas import identity as i
from schemas.commands import Command
from schemas.roles import ANYONE
from tests.ports import T0, FixedClock, RecordingMailer, make_ports, reset_token

ADDRESS = "ada@example.com"


class RacingStore(InMemoryEventStore):
    """Before the next append it is handed, lets `rival` (another writer) commit first."""

    def __init__(self) -> None:
        super().__init__()
        self.rival: Callable[[], Awaitable[object]] | None = None
        self.appends = 0

    async def append(self, commit: Commit) -> AppendResult:
        self.appends += 1
        if self.rival is not None:
            rival, self.rival = self.rival, None
            await rival()
        return await super().append(commit)


class FailingStore(InMemoryEventStore):
    """A store whose database goes away when `down` is set: every append fails from then on."""

    down = False

    async def append(self, commit: Commit) -> AppendResult:
        if self.down:
            raise Unavailable("postgres", "connection refused")
        return await super().append(commit)


def anyone(actor: UUID | None = None, key: str | None = None) -> Context:
    return Context(actor or uuid4(), UUID(int=0), frozenset({ANYONE}), idempotency_key=key)


async def registered(bus: CommandBus) -> UUID:
    reply = await bus.handle(i.RegisterUser(email=ADDRESS, password="a long passphrase", name="Ada"), anyone())
    return UUID(reply.id)


async def test_a_reset_mails_one_token_after_its_commit_and_says_when_it_expires() -> None:
    mailer = RecordingMailer()
    bus = CommandBus(InMemoryEventStore(), ROUTES, make_ports(mail=mailer, clock=FixedClock(T0)))
    await registered(bus)
    await bus.handle(i.RequestPasswordReset(email=ADDRESS), anyone())
    (mail,) = mailer.sent
    assert mail.to == ADDRESS and "2026-03-02 10:30 UTC" in mail.body  # the clock's time plus an hour
    assert reset_token(mail) not in repr(mail)  # a logged message never shows its body


async def test_a_decision_retried_after_a_conflict_mails_only_the_committed_token() -> None:
    store, mailer = RacingStore(), RecordingMailer()
    bus = CommandBus(store, ROUTES, make_ports(mail=mailer))
    user = await registered(bus)
    store.appends = 0
    # Another command on the same user commits first: the reset is decided again, with a new token.
    store.rival = lambda: bus.handle(i.UpdateProfile(name="Ada L."), anyone(actor=user))

    await bus.handle(i.RequestPasswordReset(email=ADDRESS), anyone())

    assert store.appends == 3  # the reset, lost to the rival; the rival; the reset again
    (mail,) = mailer.sent
    reply = await bus.handle(i.ResetPassword(token=reset_token(mail), new_password="another passphrase"), anyone())
    assert reply.id == str(user)  # the mailed token is the one stored


async def test_a_refused_decision_sends_nothing() -> None:
    async def mail_then_refuse(cmd: Command, s: Session) -> Decided:
        s.send(Mail(ADDRESS, "never", "never sent"))
        raise errors.RuleViolation("refused after deciding to mail")

    mailer = RecordingMailer()
    bus = CommandBus(InMemoryEventStore(), {i.UpdateProfile: mail_then_refuse}, make_ports(mail=mailer))
    with pytest.raises(errors.RuleViolation):
        await bus.handle(i.UpdateProfile(name="x"), anyone())
    assert mailer.sent == []


async def test_a_decision_the_store_did_not_take_sends_nothing() -> None:
    store, mailer = FailingStore(), RecordingMailer()
    bus = CommandBus(store, ROUTES, make_ports(mail=mailer))
    await registered(bus)
    store.down = True
    with pytest.raises(Unavailable):
        await bus.handle(i.RequestPasswordReset(email=ADDRESS), anyone())
    assert mailer.sent == []


async def test_a_replayed_command_does_not_mail_again() -> None:
    mailer = RecordingMailer()
    bus = CommandBus(InMemoryEventStore(), ROUTES, make_ports(mail=mailer))
    await registered(bus)
    asker, key = uuid4(), str(uuid4())
    first = await bus.handle(i.RequestPasswordReset(email=ADDRESS), anyone(actor=asker, key=key))
    again = await bus.handle(i.RequestPasswordReset(email=ADDRESS), anyone(actor=asker, key=key))
    assert again.replayed and again.position == first.position
    assert len(mailer.sent) == 1


async def test_an_unknown_address_changes_nothing_and_mails_nobody() -> None:
    mailer = RecordingMailer()
    store = InMemoryEventStore()
    bus = CommandBus(store, ROUTES, make_ports(mail=mailer))
    reply = await bus.handle(i.RequestPasswordReset(email="nobody@example.com"), anyone())
    assert reply.kind == "password_reset" and store.log == [] and mailer.sent == []
    assert UUID(reply.id) == email_claim_id("nobody@example.com")


async def test_a_mail_that_cannot_be_delivered_leaves_the_commit_standing() -> None:
    class BrokenMailer(RecordingMailer):
        async def send(self, mail: Mail) -> None:
            raise OSError("no route to the mail server")

    store = InMemoryEventStore()
    bus = CommandBus(store, ROUTES, make_ports(mail=BrokenMailer()))
    await registered(bus)
    before = len(store.log)
    reply = await bus.handle(i.RequestPasswordReset(email=ADDRESS), anyone())
    assert reply.kind == "password_reset" and len(store.log) == before + 1


async def test_the_mail_directory_writes_one_private_message_and_logs_no_body(tmp_path: Path) -> None:
    mailer = MailDirectory(tmp_path / "mail")
    with capture_logs() as lines:
        await mailer.send(Mail(ADDRESS, "Reset", "token: s3cret\n"))
    (path,) = (tmp_path / "mail").iterdir()
    assert path.suffix == ".eml" and path.stat().st_mode & 0o777 == 0o600
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert (message["To"], message["Subject"]) == (ADDRESS, "Reset")
    assert message.get_body().get_content() == "token: s3cret\n"  # type: ignore[union-attr]
    assert [line["event"] for line in lines] == ["mail.written"] and "s3cret" not in repr(lines)
