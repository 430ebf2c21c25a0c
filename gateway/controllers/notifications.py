"""The caller's notifications over HTTP: the feed, the unread count, mark read, mark all read,
preferences, and the live stream (Server-Sent Events, resuming from Last-Event-ID), opened with
the Authorization header or, for a browser's EventSource, a stream ticket in the URL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post, put
from litestar.exceptions import ValidationException
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from gateway.auth import Caller, authenticator_of
from gateway.dispatch import CallerDep, ServicesDep, body, command_of, dispatch, route
from gateway.notifications import NotificationHub
from gateway.queries import Position
from gateway.scope import header
from projections.queries import notifications as nq
from projections.queries.reader import Reader
from schemas import notifications as n
from schemas.results import CommandResult

MarkReadBody = body(n.MarkNotificationsRead)
MarkAllReadBody = body(n.MarkAllNotificationsRead)
PreferenceBody = body(n.SetNotificationPreference, "kind")
Req = Request[Any, Any, Any]
Answer = Response[CommandResult]
KEEPALIVE_SECONDS = 15.0
NOTIFICATION_STREAM = "/me/notifications/stream"  # the one route a stream ticket opens
_encode = msgspec.json.Encoder().encode


def _feed(_: CommandResult) -> str:
    return "/me/notifications"


def _hub(request: Req) -> NotificationHub:
    hub = request.app.state["notification_hub"]
    assert isinstance(hub, NotificationHub)
    return hub


def _last_event_id(request: Req, after: int | None) -> int | None:
    raw = header(request.scope, b"last-event-id")
    if raw is None or raw == "":
        return after
    try:
        value = int(raw)
    except ValueError:
        raise ValidationException("Last-Event-ID must be a notification's position (an integer)") from None
    if value < 0:
        raise ValidationException("Last-Event-ID must not be negative")
    return value


class NotificationController(Controller):
    path = "/me/notifications"
    tags = ["notifications"]

    @route(get, "/", summary="The caller's notifications, newest first, with the unread count", status=200)
    async def feed(
        self,
        services: ServicesDep,
        caller: CallerDep,
        before: Annotated[int | None, QueryParameter(ge=1, description="older than this position")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        unread: Annotated[bool, QueryParameter(description="unread ones only")] = False,
        position: Position = None,
    ) -> n.NotificationFeed:
        return await nq.feed(services.reader, caller, before=before, limit=limit, unread_only=unread, position=position)

    @route(get, "/unread-count", summary="How many of the caller's notifications are unread", status=200)
    async def unread(self, services: ServicesDep, caller: CallerDep, position: Position = None) -> n.UnreadCount:
        return await nq.unread_count(services.reader, caller, position=position)

    @route(post, "/read", summary="Mark some of the caller's notifications read")
    async def mark_read(
        self, request: Req, services: ServicesDep, caller: CallerDep, data: JSONBody[MarkReadBody]
    ) -> Answer:
        cmd = command_of(n.MarkNotificationsRead, data)
        return await dispatch(services, request, caller, cmd, location=_feed)

    @route(post, "/read-all", summary="Mark every notification read (up to a position, default: all so far)")
    async def mark_all_read(
        self, request: Req, services: ServicesDep, caller: CallerDep, data: JSONBody[MarkAllReadBody]
    ) -> Answer:
        cmd = command_of(n.MarkAllNotificationsRead, data)
        return await dispatch(services, request, caller, cmd, location=_feed)

    @route(get, "/preferences", summary="How each kind of notification reaches the caller", status=200)
    async def preferences(self, services: ServicesDep, caller: CallerDep, position: Position = None) -> n.Preferences:
        return await nq.preferences(services.reader, caller, position=position)

    @route(put, "/preferences/{kind:str}", summary="Choose whether a kind of notification shows and is mailed")
    async def set_preference(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        kind: FromPath[str],
        data: JSONBody[PreferenceBody],
    ) -> Answer:
        if kind not in n.KINDS:
            raise ValidationException(f"no kind of notification {kind!r}; known: {', '.join(n.KINDS)}")
        cmd = command_of(n.SetNotificationPreference, data, kind=kind)
        return await dispatch(services, request, caller, cmd, location=lambda _: "/me/notifications/preferences")

    @route(
        post,
        "/stream-ticket",
        summary="A ticket that opens the caller's notification stream for a minute, for EventSource",
        status=200,
        description="For a client that cannot send an Authorization header (a browser's EventSource): "
        "`GET` the answer's `url` (the stream with `?ticket=`) within `expires_in` seconds. The ticket opens "
        "that stream only, for that sign-in only (a sign-out ends it); the access token itself is never "
        "accepted in a URL.",
    )
    async def stream_ticket(self, request: Req, services: ServicesDep, caller: CallerDep) -> n.StreamTicket:
        ticket = authenticator_of(request).ticket(request)
        seconds = services.settings.stream_ticket_seconds
        return n.StreamTicket(ticket=ticket, expires_in=seconds, url=f"{NOTIFICATION_STREAM}?ticket={ticket}")

    @route(
        get,
        "/stream",
        summary="The caller's new notifications as Server-Sent Events, resuming after Last-Event-ID",
        status=200,
        description="Each event is a notification (`event: notification`, `id:` its position, `data:` its "
        "JSON). With a `Last-Event-ID` header (or `?after=`), the notifications after that position are "
        "sent first. A comment every 15 seconds keeps the connection open. Authenticated by the "
        "Authorization header, or by `?ticket=` from `POST /me/notifications/stream-ticket`; it ends when that "
        "sign-in ends (sign-out, password change...) or that API key is revoked.",
        security=[{"BearerToken": []}, {"StreamTicket": []}],
    )
    async def stream(
        self,
        request: Req,
        services: ServicesDep,
        after: Annotated[int | None, QueryParameter(ge=0, description="resume after this position")] = None,
        ticket: Annotated[
            str | None, QueryParameter(description="a stream ticket, instead of the Authorization header")
        ] = None,
    ) -> ServerSentEvent:
        caller, signed_in = await authenticator_of(request).lasting_caller(request, ticket)
        since = _last_event_id(request, after)
        if since is None:
            # "From now" is fixed before the answer starts: a notification made once the client
            # holds its 200 is after it, so the stream sends it.
            since = await _now(services.reader)
        return ServerSentEvent(_events(_hub(request), services.reader, caller, since, signed_in))


async def _events(
    hub: NotificationHub,
    reader: Reader,
    caller: Caller,
    since: int,
    signed_in: contextlib.AbstractContextManager[asyncio.Event],
) -> AsyncIterator[ServerSentEventMessage]:
    """The stream's messages until its sign-in (or API key) ends, which ends the answer."""
    with signed_in as ended:
        async with hub.subscribe(caller.user_id) as queue:
            sent = since
            for _, notification in await nq.newer(reader, [caller.user_id], sent):
                yield _message(notification)
                sent = notification.position
            while not ended.is_set():
                handed = await _next(queue, ended)
                if handed is None:
                    if not ended.is_set():
                        yield ServerSentEventMessage(comment="keepalive")
                elif handed.position > sent:
                    yield _message(handed)
                    sent = handed.position


async def _next(queue: asyncio.Queue[n.Notification], ended: asyncio.Event) -> n.Notification | None:
    """The next notification; None when the sign-in ended first, or a keepalive is due."""
    got = asyncio.ensure_future(queue.get())
    end = asyncio.ensure_future(ended.wait())
    try:
        await asyncio.wait((got, end), timeout=KEEPALIVE_SECONDS, return_when=asyncio.FIRST_COMPLETED)
    finally:
        got.cancel()  # a get cancelled before it took an item leaves the item in the queue
        end.cancel()
    return got.result() if got.done() and not got.cancelled() and not ended.is_set() else None


async def _now(reader: Reader) -> int:
    """Where a stream with nothing to resume from begins: the feed as it stands."""
    async with reader.connection() as conn:
        return await reader.checkpoint(conn, "notifications")


def _message(notification: n.Notification) -> ServerSentEventMessage:
    return ServerSentEventMessage(data=_encode(notification).decode(), event="notification", id=notification.position)
