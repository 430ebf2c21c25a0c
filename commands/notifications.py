"""Handlers of the inbox commands: mark read, mark all read, set a preference (own inbox only)."""

from __future__ import annotations

from commands.bus import Decided
from commands.session import Session
from domain.inbox import Inbox, inbox_id
from schemas import notifications as n


def _decided(inbox: Inbox, **data: object) -> Decided:
    return Decided(inbox, "inbox", dict(data))


async def mark_read(cmd: n.MarkNotificationsRead, s: Session) -> Decided:
    user = s.ctx.actor_id
    inbox = await s.load(Inbox, inbox_id(user))
    inbox.read(user, tuple(cmd.notification_ids), s.now)
    return _decided(inbox, read=len(cmd.notification_ids))


async def mark_all_read(cmd: n.MarkAllNotificationsRead, s: Session) -> Decided:
    user = s.ctx.actor_id
    through = cmd.through if cmd.through is not None else await s.store.head()
    inbox = await s.load(Inbox, inbox_id(user))
    changed = inbox.read_all(user, through, s.now)
    return _decided(inbox, through=through, changed=changed)


async def set_preference(cmd: n.SetNotificationPreference, s: Session) -> Decided:
    user = s.ctx.actor_id
    inbox = await s.load(Inbox, inbox_id(user))
    changed = inbox.prefer(user, cmd.kind, cmd.in_app, cmd.email)
    return _decided(inbox, kind=cmd.kind, in_app=cmd.in_app, email=cmd.email, changed=changed)
