"""A user's notification feed, unread count and preferences; new notifications for the live
stream. Each user reads only their own."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any
from uuid import UUID

from projections.queries.reader import Reader, Viewer
from schemas.notifications import DEFAULTS, KINDS, Notification, NotificationFeed, Preference, Preferences, UnreadCount

_COLUMNS = "n.notification_id, n.kind, n.title, n.body, n.link, n.data, n.position, n.created_at, n.read_at, n.user_id"
_READ_THROUGH = "coalesce((SELECT read_through FROM rm_notifications.users u WHERE u.user_id = n.user_id), 0)"
_UNREAD = (
    "SELECT count(*) FROM rm_notifications.notifications n"
    f" WHERE n.user_id = %s AND n.read_at IS NULL AND n.position > {_READ_THROUGH}"
)


def _notification(r: tuple[Any, ...], read_through: int) -> Notification:
    return Notification(
        notification_id=str(r[0]), kind=r[1], title=r[2], body=r[3], link=r[4], data=r[5], position=r[6],
        created_at=r[7], read=r[8] is not None or r[6] <= read_through,
    )  # fmt: skip


async def _read_through(conn: Any, user_id: UUID) -> int:
    cur = await conn.execute("SELECT read_through FROM rm_notifications.users WHERE user_id = %s", [user_id])
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def feed(
    reader: Reader,
    viewer: Viewer,
    *,
    before: int | None = None,
    limit: int = 50,
    unread_only: bool = False,
    position: int | None = None,
) -> NotificationFeed:
    """The viewer's notifications, newest first, `limit` at a time (older ones: `before`)."""
    await reader.reach("notifications", position)
    stmt = f"SELECT {_COLUMNS} FROM rm_notifications.notifications n WHERE n.user_id = %s"
    params: list[Any] = [viewer.user_id]
    if before is not None:
        stmt += " AND n.position < %s"
        params.append(before)
    if unread_only:
        stmt += f" AND n.read_at IS NULL AND n.position > {_READ_THROUGH}"
    stmt += " ORDER BY n.position DESC, n.notification_id LIMIT %s"
    params.append(limit + 1)
    async with reader.connection() as conn:
        at = await reader.checkpoint(conn, "notifications")
        through = await _read_through(conn, viewer.user_id)
        rows = await (await conn.execute(stmt, params)).fetchall()
        unread = (await (await conn.execute(_UNREAD, [viewer.user_id])).fetchone())[0]
    more = len(rows) > limit
    items = [_notification(r, through) for r in rows[:limit]]
    return NotificationFeed(
        items=items, unread=int(unread), next_before=items[-1].position if more and items else None, position=at
    )


async def unread_count(reader: Reader, viewer: Viewer, *, position: int | None = None) -> UnreadCount:
    await reader.reach("notifications", position)
    async with reader.connection() as conn:
        at = await reader.checkpoint(conn, "notifications")
        unread = (await (await conn.execute(_UNREAD, [viewer.user_id])).fetchone())[0]
    return UnreadCount(unread=int(unread), position=at)


async def preferences(reader: Reader, viewer: Viewer, *, position: int | None = None) -> Preferences:
    """How each kind is told to the viewer: what they chose, else the default."""
    await reader.reach("notifications", position)
    async with reader.connection() as conn:
        at = await reader.checkpoint(conn, "notifications")
        cur = await conn.execute("SELECT preferences FROM rm_notifications.users WHERE user_id = %s", [viewer.user_id])
        row = await cur.fetchone()
    chosen: dict[str, list[bool]] = row[0] if row else {}
    items = []
    for kind in KINDS:
        in_app, email = chosen.get(kind) or DEFAULTS[kind]
        items.append(Preference(kind=kind, in_app=in_app, email=email))
    return Preferences(items=items, position=at)


async def newer(
    reader: Reader, user_ids: Collection[UUID], after: int, until: int | None = None
) -> list[tuple[UUID, Notification]]:
    """Notifications of `user_ids` from events after log position `after` (up to `until`),
    oldest first: the live stream's."""
    if not user_ids:
        return []
    async with reader.connection() as conn:
        cur = await conn.execute(
            f"SELECT {_COLUMNS}, {_READ_THROUGH} FROM rm_notifications.notifications n"
            " WHERE n.user_id = ANY(%s) AND n.position > %s AND n.position <= %s"
            " ORDER BY n.position, n.notification_id",
            [list(user_ids), after, until if until is not None else 2**62],
        )
        rows = await cur.fetchall()
    return [(r[9], _notification(r, int(r[10]))) for r in rows]
