"""Password hashing with argon2id, off the event loop (a hash costs tens of milliseconds)."""

from __future__ import annotations

import asyncio
import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP's argon2id baseline (19 MiB, 2 passes, 1 lane): ~40 ms here, on one core.
_hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    """True when `password` matches; an unknown user is checked against a dummy hash so the
    answer takes as long either way."""
    return await asyncio.to_thread(_verify, password_hash or _dummy_hash(), password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash("not a password anyone has")
