"""Identifiers: time-ordered UUIDs (RFC 9562 version 7) for what the system creates, and
name-based ones (version 5) for streams that two parties must find without asking.

Version 7 ids start with the creation time in milliseconds, so rows keyed by them (the event
log's event id, new streams) land at the right end of their btree index instead of on a random
page.
"""

from __future__ import annotations

import os
import time
import uuid
from uuid import UUID

_VERSION_7 = 0x7 << 76
_VARIANT = 0b10 << 62


def new_id() -> UUID:
    """A fresh version 7 UUID: 48 bits of Unix time in ms, then 74 random bits."""
    rand = int.from_bytes(os.urandom(10))
    ms = time.time_ns() // 1_000_000
    high, low = rand >> 68, rand & ((1 << 62) - 1)  # 12 and 62 random bits
    return UUID(int=(ms << 80) | _VERSION_7 | (high << 64) | _VARIANT | low)


def name_id(namespace: UUID, name: str) -> UUID:
    """The version 5 UUID of `name` in `namespace`: the same for everyone who asks."""
    return uuid.uuid5(namespace, name)
