"""Identifiers: time-ordered UUIDs (RFC 9562 version 7) for what the system creates, and
name-based ones (version 5) for streams that two parties must find without asking.

Version 7 ids start with the creation time in milliseconds, so rows keyed by them (the event
log's event id, new streams) land at the right end of their btree index instead of on a random
page. They are drawn without a system call each: entropy comes from `os.urandom` 4 KiB at a
time, and a forked child never reuses its parent's.
"""

from __future__ import annotations

import hashlib
import os
import time
from uuid import UUID, SafeUUID

_new = object.__new__
_set = object.__setattr__
_UNKNOWN = SafeUUID.unknown
_CHUNK = 4096
_RAND_B = (1 << 62) - 1


def uuid_of(value: int) -> UUID:
    """`UUID(int=value)` for a value already known to be a valid 128-bit UUID, without the
    checks of `UUID.__init__` (a few times its cost on the write path)."""
    u: UUID = _new(UUID)
    _set(u, "int", value)
    _set(u, "is_safe", _UNKNOWN)
    return u


# Random draws of 80 bits, taken with list.pop (atomic under the GIL, so threads never share
# a draw); a forked child empties the list rather than repeat its parent's draws.
_draws: list[int] = []
os.register_at_fork(after_in_child=_draws.clear)


def _refill() -> int:
    chunk = os.urandom(_CHUNK)
    _draws.extend(int.from_bytes(chunk[i : i + 10]) for i in range(0, _CHUNK - 9, 10))
    return _draws.pop()


def new_id() -> UUID:
    """A fresh version 7 UUID: 48 bits of Unix time in ms, 74 random bits."""
    try:
        rand = _draws.pop()
    except IndexError:
        rand = _refill()
    ms = time.time_ns() // 1_000_000
    return uuid_of((ms << 80) | (0x7 << 76) | ((rand >> 68) << 64) | (0b10 << 62) | (rand & _RAND_B))


def name_id(namespace: UUID, name: str) -> UUID:
    """`uuid.uuid5(namespace, name)`, the same value, built without `UUID.__init__`."""
    digest = hashlib.sha1(namespace.bytes + name.encode(), usedforsecurity=False).digest()
    value = int.from_bytes(digest[:16])
    value = (value & ~(0xF000 << 64) & ~(0xC000 << 48)) | (5 << 76) | (0x8000 << 48)
    return uuid_of(value)
