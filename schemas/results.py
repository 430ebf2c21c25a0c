"""Replies to commands."""

from __future__ import annotations

from typing import Any

import msgspec


class CommandResult(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What every accepted command answers: the aggregate, its new version and the log position.

    `position` is the global event-store position of the last event the command wrote (or, for a
    command that changed nothing, of the last event of its stream); a query may wait for it.
    """

    id: str
    kind: str
    version: int = 0
    position: int = 0
    replayed: bool = False
    data: dict[str, Any] = {}
