"""A stream's state at a version or a time, rebuilt by replaying its domain aggregate (the code
that decides its commands, never a read model), and the difference between two such states."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from commands.codec import decode_each
from domain import errors
from domain.aggregate import Aggregate
from domain.aggregates import AGGREGATES
from infra.eventlog.reader import Replay

AGGREGATE_BY_STREAM_TYPE: dict[str, type[Aggregate]] = {a.stream_type: a for a in AGGREGATES}
# Bookkeeping of the aggregate base, not part of what the stream says.
_INTERNAL = frozenset({"id", "version", "stored_version", "last_position", "pending"})


class State(msgspec.Struct, frozen=True, kw_only=True):
    """A stream as it was after `version` (at global `position`, written at `occurred_at`)."""

    stream_id: UUID
    stream_type: str
    version: int
    position: int
    occurred_at: datetime | None
    state: dict[str, Any]


class Change(msgspec.Struct, frozen=True):
    """One value that differs: its path in the state (`modules/0/lessons/1/title`)."""

    path: str
    before: Any
    after: Any


class UnknownStream(errors.NotFound):
    """No events are stored under this stream id (at that point)."""

    code = "stream_not_found"


def rebuild(stream_id: UUID, replay: Replay | None) -> State:
    """The state after the events of `replay` (one stream's first events; None: none)."""
    if replay is None:
        raise UnknownStream("the stream has no events at that point")
    cls = AGGREGATE_BY_STREAM_TYPE.get(replay.stream_type)
    if cls is None:
        raise UnknownStream(f"no aggregate of type {replay.stream_type!r} in this build")
    aggregate = cls.replay(stream_id, decode_each(replay.types, replay.payloads), replay.position)
    return State(
        stream_id=stream_id,
        stream_type=replay.stream_type,
        version=aggregate.version,
        position=replay.position,
        occurred_at=replay.occurred_at,
        state=snapshot(aggregate),
    )


def snapshot(aggregate: Aggregate) -> dict[str, Any]:
    """The aggregate's state as JSON-ready values (dataclasses, ids and times included)."""
    fields = {k: v for k, v in vars(aggregate).items() if k not in _INTERNAL and not k.startswith("_")}
    built: dict[str, Any] = msgspec.to_builtins(fields, str_keys=True)
    return built


def diff(before: Any, after: Any, path: str = "") -> list[Change]:
    """Every leaf value that differs between two states; lists compare item by item and items
    with an `id` by id, so a reordered outline shows as moves, not as every title changed."""
    if isinstance(before, dict) and isinstance(after, dict):
        changes: list[Change] = []
        for key in [*before, *(k for k in after if k not in before)]:
            changes += diff(before.get(key), after.get(key), f"{path}/{key}" if path else str(key))
        return changes
    if isinstance(before, list) and isinstance(after, list):
        if _keyed(before) and _keyed(after):
            return diff({x["id"]: x for x in before}, {x["id"]: x for x in after}, path) + _order(before, after, path)
        changes = []
        for i in range(max(len(before), len(after))):
            changes += diff(before[i] if i < len(before) else None, after[i] if i < len(after) else None, f"{path}/{i}")
        return changes
    return [] if before == after else [Change(path, before, after)]


def _keyed(items: list[Any]) -> bool:
    return all(isinstance(x, dict) and "id" in x for x in items)


def _order(before: list[Any], after: list[Any], path: str) -> list[Change]:
    old, new = [x["id"] for x in before], [x["id"] for x in after]
    common_old = [i for i in old if i in new]
    common_new = [i for i in new if i in old]
    return [] if common_old == common_new else [Change(f"{path}/order", old, new)]
