"""The command bus: authorise, run the handler, append; idempotent and retried on conflicts;
the decision's mail goes out, and the sign-ins it ends end, once its commit stands.

An Idempotency-Key lives in the caller's organisation (callers outside any organisation each
have their own), and is bound to the request it first came with: its fingerprint names the
caller, the command (the route or subject it came by) and a hash of the command's canonical
encoding (its body and path fields, whatever JSON spelling or transport carried them). The same
key and the same request is answered with the first reply, over HTTP or NATS alike; the same
key with another body, command or caller of the organisation is refused (422
`idempotency_key_reused`); organisations never see each other's keys. That is a client's key
(`Context.bind_key`, set by the edges). A worker's key, derived from an event and a step, lives
per actor and command and replays its first answer whatever is sent again under it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec

from commands.context import Context
from commands.errors import IdempotencyKeyReused, PermissionDenied, TooMuchContention, UnknownCommand
from commands.ports import Ports, SignIns
from commands.session import Session
from commands.shared_views import SharedViews
from domain.aggregate import Aggregate
from domain.errors import DomainError
from infra.errors import ConcurrencyError, DuplicateCommand
from infra.eventlog import EventStore, Idempotency, KeptReply
from infra.logging import bound_contextvars, get_logger
from infra.mail import Mail
from schemas.access import COMMANDS, Reach
from schemas.commands import Command
from schemas.results import CommandResult

log = get_logger(__name__)
C = TypeVar("C", bound=Command)


@dataclasses.dataclass(frozen=True)
class Decided:
    """What a handler returns: the aggregate the command was about and the reply's extras."""

    primary: Aggregate
    kind: str
    data: dict[str, Any] = dataclasses.field(default_factory=dict)


Handler = Callable[[Any, Session], Awaitable[Decided]]
# Fields in declaration order, maps and sets sorted: one spelling per command.
_canonical = msgspec.json.Encoder(order="deterministic").encode


def idempotency_of(command: Command, ctx: Context) -> Idempotency | None:
    """The key's namespace and, for a client's key, the request's fingerprint,
    `caller:command:sha256(body)`; a worker's key lives per actor and command, unbound."""
    if not ctx.idempotency_key:
        return None
    name = type(command).__name__
    if not ctx.bind_key:
        return Idempotency(f"{ctx.actor_id}:{name}", ctx.idempotency_key)
    scope = f"org:{ctx.org_id}" if ctx.org_id.int else f"user:{ctx.actor_id}"  # int 0: no organisation
    body = hashlib.sha256(_canonical(command)).hexdigest()
    return Idempotency(scope, ctx.idempotency_key, f"{ctx.actor_id}:{name}:{body}")


def replay(kept: KeptReply, wanted: Idempotency) -> CommandResult:
    """The first reply, if it answered this very request; else the key was reused."""
    if not kept.fingerprint or kept.fingerprint == wanted.fingerprint:
        return kept.reply
    first_actor, first_command, _ = kept.fingerprint.split(":", 2)
    actor, command, _ = wanted.fingerprint.split(":", 2)
    if first_actor != actor:
        why = "by another caller of the organisation"
    elif first_command != command:
        why = f"for another command ({first_command}, not {command})"
    else:
        why = "with another body"
    raise IdempotencyKeyReused(f"this Idempotency-Key was first used {why}; send a new key for a new request")


class CommandBus:
    """Runs each command through its handler (`routes`) if `schemas.access.COMMANDS` lets the
    caller send it; the session carries how far the caller reaches."""

    def __init__(
        self,
        store: EventStore,
        routes: dict[type[Command], Handler],
        ports: Ports,
        *,
        signins: SignIns | None = None,
        retries: int = 25,
    ) -> None:
        self.store = store
        self.routes = routes
        self.ports = ports
        self.signins = signins  # None: nobody signs in through this bus's process (a tool, a test)
        self.retries = retries
        self.views = SharedViews()  # what its decisions only read, replayed once per version

    async def handle(self, command: Command, ctx: Context) -> CommandResult:
        name = type(command).__name__
        handler = self.routes.get(type(command))
        permission = COMMANDS.get(type(command))
        if handler is None or permission is None:
            raise UnknownCommand(f"no handler for {name}")
        reach = permission.reach(ctx.roles)
        if reach is Reach.NONE:
            raise PermissionDenied(f"{name} needs one of: {permission.describe()}")
        idem = idempotency_of(command, ctx)
        with bound_contextvars(correlation_id=ctx.correlation_id, command=name):
            # The first decision is taken on what this process holds, with no read; it stands
            # only if its commit validates it (see Session). Any other outcome is decided again
            # on a fresh read, as is every decision after a conflict. A caller that holds none
            # of the streams (`held_first` off) starts with the fresh read.
            optimistic = ctx.held_first
            for attempt in range(1, self.retries + 1):
                # First try, and after a conflict: a twin with the same key may have just won.
                if idem is not None:
                    stored = await self.store.idempotent_reply(idem.scope, idem.key)
                    if stored is not None:
                        return replay(stored, idem)
                session = Session(self.store, ctx, self.ports, reach=reach, optimistic=optimistic, shared=self.views)
                optimistic = False
                try:
                    decided = await handler(command, session)
                except (DomainError, PermissionDenied):
                    if session.speculated:
                        continue
                    # A twin with the same key may have committed since our first look.
                    if idem is not None:
                        stored = await self.store.idempotent_reply(idem.scope, idem.key)
                        if stored is not None:
                            return replay(stored, idem)
                    raise
                commit, reply = session.prepare(decided.primary, decided.kind, decided.data)
                if commit is None:
                    if session.speculated:
                        continue
                    return reply
                if idem is not None:
                    commit = msgspec.structs.replace(commit, idempotency=idem)
                try:
                    result = await self.store.append(commit)
                except ConcurrencyError as e:
                    log.debug("command.conflict", attempt=attempt, stream_id=str(e.stream_id))
                    if not session.speculated:
                        await asyncio.sleep(random.uniform(0, 0.002 * min(attempt, 10)))
                    continue
                except DuplicateCommand as dup:
                    assert idem is not None
                    return replay(KeptReply(dup.reply, dup.fingerprint), idem)  # the twin sent the mail
                assert result.reply is not None
                if session.outbox:
                    await self._send(session.outbox)
                if session.signins_ended and self.signins is not None:
                    # After the commit, before the answer: once answered, the tokens are refused.
                    for user_id in dict.fromkeys(session.signins_ended):
                        await self.signins.revoke_user(user_id)
                return result.reply
            log.warning("command.contention", attempts=self.retries)
            raise TooMuchContention(f"{name}: the data kept changing; try again")

    async def _send(self, outbox: list[Mail]) -> None:
        """Mail of a committed decision. The commit stands whatever happens here, so a failed
        delivery is logged, not raised (the user asks again, e.g. for another reset token)."""
        for mail in outbox:
            try:
                await self.ports.mail.send(mail)
            except Exception:
                log.exception("mail.failed", to=mail.to, subject=mail.subject)
